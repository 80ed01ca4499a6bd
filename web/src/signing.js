// Optional Ed25519 signatures for acknowledgements, made in the browser with WebCrypto. The private key is kept
// in this tab's memory (the input field) only; the server never sees it.

const prefix = (purpose) => new TextEncoder().encode(`deconf/${purpose}/v1\n`);
// PKCS#8 wrapping of a raw 32-byte Ed25519 private key (RFC 8410).
const PKCS8_HEAD = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

const fromBase64 = (text) => Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
const toBase64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const fromHex = (hex) => Uint8Array.from(hex.match(/../g), (b) => parseInt(b, 16));

// Signs an acknowledgement of `digest` (lowercase hex SHA-256) with the key typed in, or returns undefined.
export const signAck = (digest) => sign("ack", digest);

// Accepting a line binds the party: it signs an agreement, not a receipt.
export const signAgree = (digest) => sign("agree", digest);

async function sign(purpose, digest) {
  const typed = document.getElementById("signing-key").value;
  if (!typed.trim()) return undefined;
  const raw = fromBase64(typed);
  if (raw.length !== 32) throw new Error("the signing key must be 32 bytes, base64");
  const key = await crypto.subtle.importKey("pkcs8", new Uint8Array([...PKCS8_HEAD, ...raw]), { name: "Ed25519" }, false, ["sign"]);
  const message = new Uint8Array([...prefix(purpose), ...fromHex(digest)]);
  return toBase64(await crypto.subtle.sign({ name: "Ed25519" }, key, message));
}
