import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

/** A real HTTP proxy (Debian's tinyproxy) a test starts, and what it was asked. */
export interface HttpProxy {
  /** http://address:port/ */
  readonly url: string;
  /** The request lines it forwarded so far (`GET http://host:port/path HTTP/1.1`). */
  requests(): string[];
  stop(): void;
}

const accepting = (address: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: address, port }, () => (socket.end(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

/** Starts tinyproxy on `address` for clients in `allow` (a CIDR); stopped by its PID. */
export async function startHttpProxy(address: string, allow: string): Promise<HttpProxy> {
  const directory = mkdtempSync(path.join(tmpdir(), 'onboarder-proxy-'));
  const log = path.join(directory, 'tinyproxy.log');
  const port = await freePort(address);
  const configuration = path.join(directory, 'tinyproxy.conf');
  writeFileSync(configuration, [`Port ${port}`, `Listen ${address}`, 'Timeout 60', `LogFile "${log}"`, 'LogLevel Connect', 'MaxClients 20', `Allow ${allow}`, ''].join('\n'));
  const proxy = spawn('tinyproxy', ['-d', '-c', configuration], { stdio: 'ignore' });
  const stop = () => {
    proxy.kill();
    rmSync(directory, { recursive: true, force: true });
  };
  for (let attempt = 0; !(await accepting(address, port)); attempt++) {
    if (attempt === 100 || proxy.exitCode !== null) {
      stop();
      throw new Error(`tinyproxy did not start on ${address}:${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://${address}:${port}/`,
    requests: () => (existsSync(log) ? [...readFileSync(log, 'utf8').matchAll(/Request \(file descriptor \d+\): (.*)$/gm)].map((match) => match[1]!) : []),
    stop,
  };
}
