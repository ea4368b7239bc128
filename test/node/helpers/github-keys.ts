/**
 * A stand-in for GitHub's secret-scanning key endpoint and a test signer
 * (issue 24): a fresh ECDSA P-256 key pair per call, its public key as the PEM
 * document GitHub publishes, and signatures as GitHub sends them (base64 of
 * ASN.1 DER over the raw body). Web Crypto only, so the same helper runs in
 * workerd (test/control) and in Node (test/security).
 */

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** IEEE P1363 r||s (what Web Crypto signs) as ASN.1 DER (what GitHub sends). */
export function p1363ToDer(sig: Uint8Array): Uint8Array {
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    return v[0]! & 0x80 ? [0x02, v.length + 1, 0, ...v] : [0x02, v.length, ...v];
  };
  const body = [...int(sig.subarray(0, 32)), ...int(sig.subarray(32))];
  return Uint8Array.from([0x30, body.length, ...body]);
}

export interface GithubSigner {
  keyId: string;
  /** The public key as PEM (SPKI), as in `public_keys[].key`. */
  pem: string;
  /** base64 DER ECDSA-SHA256 signature of `body`, for GITHUB-PUBLIC-KEY-SIGNATURE. */
  sign(body: string | Uint8Array): Promise<string>;
}

/** A fresh P-256 key pair named `keyId`. */
export async function githubSigner(keyId = `test-${crypto.randomUUID()}`): Promise<GithubSigner> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as {
    publicKey: Parameters<typeof crypto.subtle.exportKey>[1];
    privateKey: Parameters<typeof crypto.subtle.sign>[1];
  };
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const pem = `-----BEGIN PUBLIC KEY-----\n${b64(spki).replace(/(.{64})/g, "$1\n")}\n-----END PUBLIC KEY-----\n`;
  return {
    keyId,
    pem,
    async sign(body) {
      const sig = new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, typeof body === "string" ? new TextEncoder().encode(body) : body),
      );
      return b64(p1363ToDer(sig));
    },
  };
}

/** GitHub's key document: `{ public_keys: [{ key_identifier, key, is_current }] }`. */
export function keysDocument(signers: GithubSigner[]): string {
  return JSON.stringify({ public_keys: signers.map((s, i) => ({ key_identifier: s.keyId, key: s.pem, is_current: i === 0 })) });
}

/** Headers of a signed report. */
export async function signedHeaders(signer: GithubSigner, body: string): Promise<Record<string, string>> {
  return {
    "Content-Type": "application/json",
    "GITHUB-PUBLIC-KEY-IDENTIFIER": signer.keyId,
    "GITHUB-PUBLIC-KEY-SIGNATURE": await signer.sign(body),
  };
}
