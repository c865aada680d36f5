// Mint an Auth.js session cookie value with the real @auth/core (the Next.js app's version).
// Usage: node authjs.mjs '<json {token, secret, salt, maxAge?}>' → prints {"value": "<JWE>"}.
import { encode } from "@auth/core/jwt";

const params = JSON.parse(process.argv[2]);
const value = await encode(params);
process.stdout.write(JSON.stringify({ value }));
