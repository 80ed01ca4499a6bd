"""XML from strangers, parsed safely: no DTD, no entities, no network, no huge trees."""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped]

from deconfliction.adapters.formats.rows import FormatError


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, dtd_validation=False,
        remove_comments=True, remove_pis=True,
    )  # fmt: skip


def parse(data: bytes, what: str) -> etree._Element:
    """The document's root element; FormatError if it is not well-formed XML or declares a DOCTYPE.

    A DOCTYPE is refused outright: KML and GPX need none, and it is where entity expansion (billion laughs) and
    external entities (XXE) hide.
    """
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"the file is not well-formed XML ({what}): {exc}") from None
    if root is None:
        raise FormatError(f"the file holds no XML ({what})")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise FormatError(f"the {what} file declares a DOCTYPE; DTDs and entities are refused for safety")
    return root


def local(tag: object) -> str:
    """An element's tag without its namespace."""
    return str(tag).rsplit("}", 1)[-1]
