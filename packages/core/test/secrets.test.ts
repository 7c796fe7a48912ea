import { describe, expect, it } from "vitest";
import { assertNoSecrets, containsSecrets, SecretInEventDataError } from "../src/index";

describe("assertNoSecrets", () => {
  it("lets ordinary audit data through", () => {
    expect(() =>
      assertNoSecrets({
        namespace: "birds",
        tokenId: "t-123",
        tokens: [{ id: "t-1", description: "ci", readwrite: false }],
        nonExpiring: true,
        sizes: [1, 2, 3],
        note: null,
      }),
    ).not.toThrow();
  });

  it("refuses keys that name credentials, in any case or spelling, at any depth", () => {
    for (const key of [
      "password",
      "Password",
      "passwd",
      "secret",
      "clientSecret",
      "apikey",
      "api_key",
      "API-Key",
      "authorization",
      "token",
      "accessToken",
      "token_value",
      "privateKey",
    ]) {
      expect(containsSecrets({ [key]: "x" }), key).toBe(true);
    }
    expect(() => assertNoSecrets({ outer: [{ inner: { password: "p" } }] }, "requestData")).toThrow(
      /"requestData\.outer\[0\]\.inner\.password" looks like a credential/,
    );
  });

  it("refuses Authorization-header-shaped values under innocent keys", () => {
    expect(containsSecrets({ header: "Bearer abc.def.ghi" })).toBe(true);
    expect(containsSecrets({ header: "basic dG9rZW46c2VjcmV0" })).toBe(true);
    expect(containsSecrets({ header: "bearer of bad news" })).toBe(false);
    expect(containsSecrets({ header: "Bearer" })).toBe(false);
  });

  it("never repeats the secret in the error", () => {
    try {
      assertNoSecrets({ password: "hunter2" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SecretInEventDataError);
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("copes with cycles", () => {
    const data: Record<string, unknown> = { name: "x" };
    data.self = data;
    expect(containsSecrets(data)).toBe(false);
  });
});
