// What cluster-certificates reads on a node (tasks/certificates/node-certificates.ts): the certificates of
// find's listing and of the kubeconfigs' client-certificate-data (made here with openssl), the leaf ones that
// expire within the window (soonest first, CAs apart), and the CAs named on their own.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expiringAuthorities, expiringCertificates, kubeconfigCertificates, listedCertificates, type NodeCertificate } from '../../tasks/certificates/node-certificates.js';
import { loopbackCertificates } from '../helpers/certificates.js';

function withCertificates(body: (pem: { readonly ca: string; readonly leaf: string }) => void): void {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-certificates-'));
  try {
    const made = loopbackCertificates(directory, 'apiserver');
    body({ ca: readFileSync(made.ca, 'utf8'), leaf: readFileSync(made.cert, 'utf8') });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test("find's listing: each file's certificate, the CA told apart; a file that is no certificate is left out", () => {
  withCertificates(({ ca, leaf }) => {
    const listing = `## /etc/kubernetes/pki/ca.crt\n${ca}## /etc/kubernetes/pki/apiserver.crt\n${leaf}## /etc/kubernetes/pki/broken.crt\nnot a certificate\n`;
    const read = listedCertificates('cp1', listing);
    assert.equal(read.map((each) => [each.node, each.where, each.ca]), [['cp1', '/etc/kubernetes/pki/ca.crt', true], ['cp1', '/etc/kubernetes/pki/apiserver.crt', false]]);
    // openssl made both for two days.
    for (const each of read) assert.ok(Math.abs(each.validTo.getTime() - Date.now() - 2 * 86_400_000) < 3_600_000, each.where);
  });
});

test("a kubeconfig's client certificate, from its base64 data; a kubeconfig without one has none", () => {
  withCertificates(({ leaf }) => {
    const output = `/etc/kubernetes/admin.conf:    client-certificate-data: ${Buffer.from(leaf).toString('base64')}\n/etc/kubernetes/scheduler.conf:    client-certificate-data: bm90IGEgY2VydGlmaWNhdGU=\n`;
    assert.equal(kubeconfigCertificates('cp1', output).map((each) => each.where), ['/etc/kubernetes/admin.conf (client certificate)']);
  });
});

test('due: the leaf certificates within the window, soonest first, expired ones said so; CAs are named apart', () => {
  const now = new Date('2027-01-01T00:00:00Z');
  const at = (days: number) => new Date(now.getTime() + days * 86_400_000);
  const certificates: NodeCertificate[] = [
    { node: 'cp2', where: '/etc/kubernetes/pki/apiserver.crt', validTo: at(60), ca: false },
    { node: 'cp1', where: '/etc/kubernetes/pki/etcd/server.crt', validTo: at(-3), ca: false },
    { node: 'cp1', where: '/etc/kubernetes/pki/apiserver.crt', validTo: at(200), ca: false },
    { node: 'cp1', where: '/etc/kubernetes/pki/ca.crt', validTo: at(30), ca: true },
  ];
  assert.equal(expiringCertificates(certificates, now, 90), [
    'cp1: /etc/kubernetes/pki/etcd/server.crt expired 2026-12-29',
    'cp2: /etc/kubernetes/pki/apiserver.crt expires 2027-03-02 (in 60 days)',
  ]);
  assert.equal(expiringCertificates(certificates, now, 30), ['cp1: /etc/kubernetes/pki/etcd/server.crt expired 2026-12-29']);
  assert.equal(expiringAuthorities(certificates, now, 90), ['cp1: /etc/kubernetes/pki/ca.crt (a CA) expires 2027-01-31']);
  assert.equal(expiringAuthorities(certificates, now, 10), []);
});

test.run();
