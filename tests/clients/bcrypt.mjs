// bcrypt as the Next.js app does it (bcrypt-ts 5.0.3, cost 10).
// Usage: node bcrypt.mjs hash <password>          → {"hash": "$2a$10$…"}
//        node bcrypt.mjs compare <password> <hash> → {"match": true|false}
import { compareSync, genSaltSync, hashSync } from "bcrypt-ts";

const [command, password, hash] = process.argv.slice(2);
if (command === "hash") {
  process.stdout.write(JSON.stringify({ hash: hashSync(password, genSaltSync(10)) }));
} else if (command === "compare") {
  process.stdout.write(JSON.stringify({ match: compareSync(password, hash) }));
} else {
  process.stderr.write(`unknown command ${command}\n`);
  process.exit(2);
}
