import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { semanticsTable } from '../../src/lab/semantics-table';

const root = path.resolve(__dirname, '..', '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const semantics = fs.readFileSync(path.join(root, 'docs', 'semantics.md'), 'utf8');
const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');

function between(text: string, start: string, end: string): string {
  const match = new RegExp(`<!-- ${start} -->\\n([\\s\\S]*?)<!-- ${end} -->`).exec(text);
  if (!match) throw new Error(`no ${start} section`);
  return match[1];
}

/** A lab run's text with what differs from run to run (byte counts, durations, the kernel) and the layout folded away. */
const comparable = (text: string) => text.replace(/\d[\d,.]*/g, 'N').replace(/on \S+ \S+ \S+ x64/g, 'on HOST').replace(/\s+/g, ' ').trim();

describe('the README is a front door that tells the truth', () => {
  it('fits in 200 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  });

  it("docs/semantics.md's table is the scenario table", () => {
    expect(between(semantics, 'semantics:start', 'semantics:end')).toBe(semanticsTable());
  });

  it('its quick start is examples/quickstart.mjs, and it runs as written', () => {
    const code = between(readme, 'quickstart:start', 'quickstart:end').replace(/^```js\n|```\n$/g, '');
    expect(code).toBe(fs.readFileSync(path.join(root, 'examples/quickstart.mjs'), 'utf8'));
    const out = execFileSync(process.execPath, ['examples/quickstart.mjs'], { cwd: root, encoding: 'utf8' });
    expect(out).toContain('server linger: { onoff: true, seconds: 0 }');
    expect(out).toMatch(/client saw: ECONNRESET -\d+ -> ECONNRESET true/);
    expect(out).toContain('Winsock 10054 is ECONNRESET');
  });

  // The first recipe, as written, against a client nobody here wrote: Python's http.client sends
  // the whole 48 MiB body before it reads, so without the recipe the early close resets it.
  it.runIf(process.platform === 'linux')('its HTTP recipe, run as written, lets Python read a whole early 413', async () => {
    const recipe = /\*\*Answer early without resetting the client\*\*[^\n]*\n\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(recipe).toBeDefined();
    const script = (withRecipe: boolean) => [
      "const http = require('node:http');",
      // What servers do past a body limit: answer, then drop the request (node:http, express, koa...).
      "const server = http.createServer((req, res) => { res.writeHead(413, { connection: 'close' }); res.end('too large', () => req.destroy()); });",
      withRecipe ? recipe!.replace("require('net-linger/http')", `require(${JSON.stringify(path.join(root, 'dist', 'cjs', 'http', 'index.js'))})`) : '',
      "server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));",
      "process.stdin.on('end', () => server.close()).resume();",
    ].join('\n');
    const client = [
      'import http.client, sys',
      'c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)',
      'try:',
      '    c.request("POST", "/upload", body=b"x" * (48 << 20))',
      '    r = c.getresponse()',
      '    print(r.status, r.read().decode())',
      'except Exception as e:',
      '    print(type(e).__name__)',
    ].join('\n');
    const run = async (withRecipe: boolean) => {
      const server = spawn(process.execPath, ['-e', script(withRecipe)], { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        const port = await new Promise<string>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
        return execFileSync('python3', ['-c', client, port], { encoding: 'utf8' }).trim();
      } finally {
        server.stdin.end();
        server.kill();
      }
    };
    expect(await run(true)).toBe('413 too large');
    // The control: the same server without the recipe resets Python before it reads the answer.
    expect(await run(false)).toMatch(/^(ConnectionResetError|BrokenPipeError)$/);
  }, 60_000);

  // The excerpt is a Linux run (the README says so); other platforms' rows differ by design.
  it.runIf(process.platform === 'linux')('its lab excerpt is what that command prints on Linux', () => {
    const block = between(readme, 'lab-excerpt:start', 'lab-excerpt:end').replace(/^```\n|```\n$/g, '');
    const [command, ...shown] = block.split('\n');
    const args = command.replace(/^\$ npx net-linger /, '').split(' ');
    const out = execFileSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, COLUMNS: '100' } });
    expect(comparable(out)).toBe(comparable(shown.join('\n')));
  });

  it('every command it shows is run: by CI itself, or by a test of this suite', () => {
    const ci = fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8');
    const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap((m) => m[1].split('\n'))
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter(Boolean);
    // Where each is run: .ci/run runs npm ci (npm install's lock-file twin) and npm test; the lab
    // and the consumer's install are run by test:pack (from the packed tarball) and cli.test.ts.
    const runBy: Record<string, () => boolean> = {
      'npm install net-linger': () => /npm run test:pack/.test(ci),
      'npm install': () => /npm ci\b/.test(ci),
      'npx net-linger lab': () => /npm run test:pack/.test(ci),
      'npm run lab': () => fs.readFileSync(path.join(root, 'test', 'cli', 'cli.test.ts'), 'utf8').includes("['run', '-s', 'lab'"),
      'npm test': () => /^npm test$/m.test(ci),
    };
    for (const command of commands) {
      expect(Object.keys(runBy), command).toContain(command);
      expect(runBy[command](), command).toBe(true);
    }
  });
});
