// Transitional: the security tests' helpers are test/security/helpers.ts (one name for helpers in every
// test folder). This re-export only keeps branches written before the rename compiling; delete it once
// they are merged and import "./helpers.ts".
export * from "./helpers.ts";
