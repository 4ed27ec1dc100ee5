import { createServer, type AddressInfo } from 'node:net';

/** A free TCP port on `address` (loopback by default): taken from the kernel, then released for the caller's server. */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => (probe.once('error', reject), probe.listen(0, address, resolve)));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
