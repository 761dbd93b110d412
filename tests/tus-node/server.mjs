// The official tus server for Node (@tus/server + @tus/file-store), storing uploads in a
// directory: `node server.mjs PORT DIR`. Used by Vigil's interoperability test.
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, dir] = process.argv.slice(2);
const tus = new Server({ path: "/files", datastore: new FileStore({ directory: dir }) });
// A client must not hand its backend session token to a third-party upload server.
http.createServer((req, res) => {
  if (req.headers.authorization) {
    res.writeHead(401).end("no Authorization header expected here");
    return;
  }
  tus.handle(req, res);
}).listen(Number(port), "127.0.0.1", () => {
  console.log(`tus server on 127.0.0.1:${port}, storing in ${dir}`);
});
