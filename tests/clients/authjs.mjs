// Mint Auth.js session cookie values with the real @auth/core (the version the Next.js app pins).
// Usage: node authjs.mjs '<json [{token, secret, salt, maxAge?}, …]>' → prints ["<JWE>", …].
import { encode } from "@auth/core/jwt";

const requests = JSON.parse(process.argv[2]);
const values = [];
for (const params of requests) {
  values.push(await encode(params));
}
process.stdout.write(JSON.stringify(values));
