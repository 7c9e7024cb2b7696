/**
 * `/health` (the process is alive) and `/ready` (the queue is known and the experiment is
 * loaded) for Kubernetes probes. Off unless HEALTH_PORT is set.
 */
import { createServer, type Server } from "node:http";

export function startHealthServer(port: number, host: string, isReady: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/health") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    if (path === "/ready") {
      const ready = isReady();
      return void res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ready }));
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
