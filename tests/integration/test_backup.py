"""`deconf backup` and `deconf restore`: an online copy of a live channel, checked and put back, record intact."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deconfliction.bootstrap import wire
from deconfliction.cli import app
from deconfliction.config import Settings
from deconfliction.ledger.entry import line
from deconfliction.ledger.verify import verify_lines
from deconfliction.services import declarations, ledger, parties
from tests.conftest import feature, make_settings, square

RUNNER = CliRunner()


def test_a_backup_of_a_live_channel_restores_with_its_record_verifying(settings: Settings, tmp_path: Path) -> None:
    live = wire(settings)
    parties.create_party(live.ctx, "sdf", "SDF", None)
    written = declarations.declare(live.ctx, "sdf", feature(square(40.2, 35.3)))
    copy = tmp_path / "copy.db"
    r = RUNNER.invoke(app, ["backup", str(copy), "--db", settings.db])  # while the channel is open
    assert r.exit_code == 0, r.output
    assert RUNNER.invoke(app, ["backup", str(copy), "--db", settings.db]).exit_code == 2  # never overwrites
    key = live.ctx.chain.public_key
    live.ctx.close()

    elsewhere = make_settings(tmp_path / "new", ledger_key_file=settings.ledger_key_path().as_posix())
    Path(elsewhere.db).parent.mkdir()
    r = RUNNER.invoke(app, ["restore", str(copy), "--db", elsewhere.db])
    assert r.exit_code == 0, r.output
    assert "entries in the record" in r.output
    assert RUNNER.invoke(app, ["restore", str(copy), "--db", elsewhere.db]).exit_code == 2  # needs --force
    restored = wire(elsewhere)
    assert declarations.get_visible(restored.ctx, "sdf", written.declaration.id).version == 1
    entries = ledger.entries_after(restored.ctx, 0, 1000)
    assert verify_lines([line(e) for e in entries], key).ok
    restored.ctx.close()


def test_a_damaged_file_is_not_restored(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    r = RUNNER.invoke(app, ["restore", str(bad), "--db", settings.db])
    assert r.exit_code == 1 and "Not restored" in r.output, r.output
    assert not Path(settings.db).exists()


def test_backup_and_restore_refuse_a_postgresql_channel_pointing_to_pg_dump(tmp_path: Path) -> None:
    """With DECONF_DATABASE_URL set, the channel is not the SQLite file: copying or replacing that file would be
    a backup of nothing, or a restore nobody sees."""
    env = {"DECONF_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/somewhere"}
    for command in ("backup", "restore"):
        r = RUNNER.invoke(app, [command, str(tmp_path / "copy.db"), "--db", str(tmp_path / "channel.db")], env=env)
        assert r.exit_code == 2, r.output
        assert "pg_dump" in r.output and "PostgreSQL" in r.output
    assert not (tmp_path / "channel.db").exists() and not (tmp_path / "copy.db").exists()
