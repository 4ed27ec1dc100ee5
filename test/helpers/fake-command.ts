// A command the test steers, as wireit's rig.newCommand(): each time a program of this name starts, the test
// is told (with its argv and pid) and decides what it prints and when it exits, over a Unix socket. No
// sleeps, no polling of /proc. The program is a small Node script written into a bin directory the test
// puts first on PATH.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** One start of a fake command: what it was called with, and the means to steer it. */
export class FakeInvocation {
  private exited: Promise<void>;

  constructor(
    readonly argv: readonly string[],
    readonly pid: number,
    private readonly socket: net.Socket,
  ) {
    this.exited = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Writes `text` to its stdout (or stderr). */
  print(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.socket.write(`${JSON.stringify({ print: text, stream })}\n`);
  }

  /** Makes it exit with `code`; resolves once it is gone. */
  async exit(code = 0): Promise<void> {
    this.socket.write(`${JSON.stringify({ exit: code })}\n`);
    await this.exited;
  }

  /** Resolves when the program has gone (exited, or killed). */
  gone(): Promise<void> {
    return this.exited;
  }
}

export class FakeCommands {
  /** Put this first on PATH for the programs the test steers. */
  readonly binDirectory: string;
  private readonly waiting = new Map<string, ((invocation: FakeInvocation) => void)[]>();
  private readonly arrived = new Map<string, FakeInvocation[]>();

  private constructor(
    private readonly directory: string,
    private readonly server: net.Server,
  ) {
    this.binDirectory = path.join(directory, 'bin');
  }

  static async start(): Promise<FakeCommands> {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-fake-'));
    const server = net.createServer();
    const rig = new FakeCommands(directory, server);
    mkdirSync(rig.binDirectory);
    server.on('connection', (socket) => rig.accept(socket));
    await new Promise<void>((resolve) => server.listen(path.join(directory, 'steer.sock'), resolve));
    return rig;
  }

  /** Creates a FAKE program called `name` in binDirectory. */
  newCommand(name: string): void {
    const script = `#!${process.execPath}
// FAKE ${name}: steered by a test through ${path.join(this.directory, 'steer.sock')}.
const net = require('node:net');
const socket = net.connect(${JSON.stringify(path.join(this.directory, 'steer.sock'))});
socket.write(JSON.stringify({ name: ${JSON.stringify(name)}, argv: process.argv.slice(2), pid: process.pid }) + '\\n');
let pending = '';
socket.on('data', (chunk) => {
  pending += chunk;
  for (let newline = pending.indexOf('\\n'); newline !== -1; newline = pending.indexOf('\\n')) {
    const order = JSON.parse(pending.slice(0, newline));
    pending = pending.slice(newline + 1);
    if ('print' in order) process[order.stream].write(order.print);
    if ('exit' in order) process[order.stream ?? 'stdout'].write('', () => process.exit(order.exit));
  }
});
socket.on('close', () => process.exit(99));
`;
    const file = path.join(this.binDirectory, name);
    writeFileSync(file, script);
    chmodSync(file, 0o755);
  }

  /** The next start of `name` (one that already happened and was not taken yet, else the next to come). */
  next(name: string): Promise<FakeInvocation> {
    const ready = this.arrived.get(name)?.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const list = this.waiting.get(name) ?? [];
      list.push(resolve);
      this.waiting.set(name, list);
    });
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.directory, { recursive: true, force: true });
  }

  private accept(socket: net.Socket): void {
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const newline = pending.indexOf('\n');
      if (newline === -1) return;
      socket.off('data', onData);
      const hello = JSON.parse(pending.slice(0, newline)) as { name: string; argv: string[]; pid: number };
      const invocation = new FakeInvocation(hello.argv, hello.pid, socket);
      const waiter = this.waiting.get(hello.name)?.shift();
      if (waiter) waiter(invocation);
      else this.arrived.set(hello.name, [...(this.arrived.get(hello.name) ?? []), invocation]);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  }
}

/** Runs `body` with a rig whose FAKE program `name` is in its bin directory; the rig is closed afterwards. */
export async function withFakeCommand<Result>(name: string, body: (rig: FakeCommands) => Promise<Result>): Promise<Result> {
  const rig = await FakeCommands.start();
  rig.newCommand(name);
  try {
    return await body(rig);
  } finally {
    await rig.close();
  }
}
