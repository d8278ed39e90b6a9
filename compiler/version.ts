// The ampc version artifacts record (compiledWith.ampc); test/package.test.ts
// checks it against package.json.
export const AMPC_VERSION = '0.1.0';
