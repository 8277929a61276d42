/**
 * The CLI as a function: run(argv, io) → exit code. 0 ok, 1 a check failed, 2 usage or input
 * error. Nothing here calls process.exit; heavy modules (ink, the demo server) load only when used.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliIO } from './io.js';
import { printError } from './style.js';
import { PinctlError } from '../src/errors.js';
import { VERSION } from './version.js';
import { registerMonitor } from './commands/monitor.js';
import { REGISTRY } from '../src/formats/registry.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const list = (value: string, previous: string[]) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

export async function run(argv: string[], io: CliIO): Promise<number> {
  let exitCode = 0;
  const program = new Command('pinctl')
    .description('SPKI pins and mobile pinning configs, checked against live endpoints.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: (s, write) => write(s) })
    .addHelpText(
      'after',
      `
Examples:
  pinctl demo                                          see it work offline against a local server
  pinctl pins chain.pem                                pins of every certificate and key in a file
  pinctl generate api.example.com --format android,ios --out pinning/
  pinctl check pinning/network_security_config.xml     would today's servers pass these pins?

Exit codes: 0 ok, 1 a check failed, 2 usage or input error.`,
    );

  const net = (c: Command) =>
    c
      .option('--ca-file <file>', 'trust store: PEM file of CA certificates (default: the system store)')
      .option('--resolve <host:port:addr>', "dial this address for host:port (curl's syntax; repeatable)", collect, [])
      .option('--timeout <duration>', 'per address: connect + handshake + chain read (5, 2.5s, 500ms)', '5s');

  net(
    program
      .command('pins')
      .description('print the SPKI pin of every certificate, key and CSR in files (PEM, DER, PKCS#7; - for stdin)')
      .argument('<file...>', 'files to read, or - for stdin')
      .option('--json', 'print a JSON array on stdout')
      .addHelpText('after', '\nExamples:\n  pinctl pins fullchain.pem\n  pinctl pins --json backup.key | jq -r ".[].spkiSha256"\n  openssl s_client -connect host:443 -showcerts </dev/null | pinctl pins -'),
  ).action(async (files: string[], opts) => {
    const { pinsCommand } = await import('./commands/pins.js');
    exitCode = await pinsCommand(files, opts, io);
  });

  net(
    program
      .command('generate')
      .description('fetch live chains (or read --cert files) and write pinning configs')
      .argument('[host...]', 'host, host:port or [IPv6]:port; every address of a name is probed')
      .option('--cert <file>', 'use the chain in this file instead of probing (repeatable)', collect, [])
      .addOption(new Option('--pin <role>', 'what to pin: leaf, intermediate, root (repeatable; default intermediate + root)').argParser(collect).default([]))
      .option('--backup-key <file>', 'add the pin of this key, CSR or certificate as a backup (repeatable)', collect, [])
      .option('--backup-pin <base64>', 'add this pin value as a backup (repeatable; "sha256/" prefix accepted)', collect, [])
      .option('--keep-pins-from <config>', 'keep every pin the shipped config has for each domain, as backups')
      .option('--new-backup-key <dir>', 'create a spare P-256 key pair and CSR in DIR and pin it as a backup')
      .option('--include-subdomains', 'pin every subdomain too (platforms differ: see docs/FORMATS.md)')
      .option('--expiration <YYYY-MM-DD>', 'pin-set expiration (default: one year from today); enforcement stops at 00:00 on that date')
      .option('--format <list>', `${REGISTRY.map((e) => e.id).join(', ')} (comma list or repeated)`, list, [])
      .option('--out <dir>', 'write the config files to DIR (default: stdout); never over a file pinctl did not write')
      .option('--update <file>', "update the app's existing config in place: only the generated domains change (format from the file)")
      .option('--dry-run', 'with --update: print the unified diff, write nothing')
      .option('--force', 'with --out: replace files pinctl did not write')
      .option('--report-uri <url>', 'TrustKit: where pin failures are reported (repeatable; the default third-party URI is always off)', collect, [])
      .option('--report-only', 'TrustKit: report failures without blocking (TSKEnforcePinning false) for a staged roll-out')
      .option('--trust-anchor <file>', 'a CA the app must trust: Android <trust-anchors> (+ res/raw/), TrustKit TSKAdditionalTrustAnchors', collect, [])
      .option('--debug-overrides <file>', 'a CA trusted in debuggable Android builds only (<debug-overrides>)', collect, [])
      .option('--insecure', 'pin a chain that does not validate (prints a loud warning)')
      .option('--port <port>', 'port for hosts given without one', '443')
      .option('--json', 'print the result (pin set, warnings, files) as JSON on stdout')
      .addHelpText(
        'after',
        `
Examples:
  pinctl generate api.example.com --format android,ios,okhttp --out pinning/
  pinctl generate api.example.com:8443 --pin leaf --pin intermediate --backup-key spare.key --format ios
  pinctl generate api.example.com --cert fullchain.pem --new-backup-key keys/ --format json
  pinctl generate api.example.com --resolve api.example.com:443:203.0.113.10 --ca-file private-root.pem
  pinctl generate api.example.com --update app/src/main/res/xml/network_security_config.xml --dry-run
  pinctl generate api.example.com --keep-pins-from shipped/pins.json --backup-pin <base64> --format trustkit

Formats:
${REGISTRY.map((e) => `  ${e.id.padEnd(14)} ${e.fileName.padEnd(30)} ${e.summary}`).join('\n')}`,
      ),
  ).action(async (hosts: string[], opts) => {
    const { generateCommand } = await import('./commands/generate.js');
    exitCode = await generateCommand(hosts, opts, io);
  });

  net(
    program
      .command('check')
      .description('probe the domains of a pinning config and report whether each address would pass')
      .argument('<config>', 'network_security_config.xml, an iOS or TrustKit plist, or pinctl JSON')
      .option('--port <port>', 'port for every domain (default: 443, or the ports a pinctl JSON pin set recorded)')
      .option('--warn-days <n>', 'also fail when a pinned key\'s certificate expires within N days')
      .option('--json', 'print per-address results as JSON on stdout'),
  ).action(async (config: string, opts) => {
    const { checkCommand } = await import('./commands/check.js');
    exitCode = await checkCommand(config, opts, io);
  });

  program
    .command('demo')
    .description('offline tour: start a local TLS server from fixtures/, generate pins for it, check them')
    .action(async () => {
      const { demoCommand } = await import('./commands/demo.js');
      exitCode = await demoCommand(io);
    });

  // ---- signed bundles and the signing service (docs/SPEC.md) ----
  // `bundle create --version N` and `publish --version N` need the program's own -V/--version to
  // be recognised only before a subcommand, not after it.
  program.enablePositionalOptions();

  const keys = program.command('keys').description('Ed25519 signing keys for bundles');
  keys
    .command('generate')
    .description('make an Ed25519 key pair in DIR and print its key id (SHA-256 of the raw public key)')
    .requiredOption('--out <dir>', 'writes pinctl-signing.key (PKCS#8, mode 0600; never overwritten), pinctl-signing.pub.pem, pinctl-signing.pub')
    .option('--role <role>', 'signing (default: signs pins and trust roots online) or root (SPEC §7: offline, signs keysets; writes pinctl-root.key, .pub.pem, .pub)')
    .option('--json', 'print {keyid, role, publicKey, files} on stdout')
    .action(async (opts) => {
      const { keysGenerateCommand } = await import('./commands/keys.js');
      exitCode = await keysGenerateCommand(opts, io);
    });

  const bundle = program.command('bundle').description('create, sign, verify and inspect signed bundles (DSSE, Ed25519)');
  bundle
    .command('create')
    .description('sign a pins, trust-roots or keyset bundle and print the DSSE envelope')
    .option('--pins <file>', 'pinctl.pins.v1 JSON (pinctl generate --format json); every domain needs two pins or more')
    .option('--trust-roots <file>', 'PEM file of root certificates')
    .option('--keyset [pub...]', 'a keyset of these public keys (pinctl-signing.pub or .pub.pem)')
    .option('--keyset-keys <pub>', 'one more key for --keyset (repeatable)', collect, [])
    .option('--threshold <n>', 'keyset: signatures clients require (default 1)')
    .option('--key <file>', 'private signing key (repeatable: a rotation is signed by the old and the new keys)', collect, [])
    .requiredOption('--version <n>', 'bundle version: strictly increasing per type and audience')
    .requiredOption('--audience <app>', 'the app or account the bundle is for')
    .option('--expires-in <duration>', 'validity: 30m, 12h, 7d', '7d')
    .option('--out <file>', 'write the envelope to FILE instead of stdout')
    .addHelpText(
      'after',
      `
Examples:
  pinctl bundle create --pins pins.json --key pinctl-signing.key --version 8 --audience com.example.app
  pinctl bundle create --trust-roots roots.pem --key pinctl-signing.key --version 3 --audience com.example.app --expires-in 30d
  pinctl bundle create --keyset old/pinctl-signing.pub new/pinctl-signing.pub --key old/pinctl-signing.key \\
      --key new/pinctl-signing.key --version 2 --audience com.example.app --out keyset-2.json`,
    )
    .action(async (opts) => {
      const { bundleCreateCommand } = await import('./commands/bundle.js');
      exitCode = await bundleCreateCommand(opts, io);
    });
  bundle
    .command('sign')
    .description('add signatures to an existing bundle (e.g. a keyset signed by the old and the new keys)')
    .argument('<bundle>', 'the envelope JSON, or - for stdin')
    .option('--key <file>', 'private key to sign with (repeatable)', collect, [])
    .option('--out <file>', 'write the envelope to FILE (may be the input) instead of stdout')
    .action(async (file: string, opts) => {
      const { bundleSignCommand } = await import('./commands/bundle.js');
      exitCode = await bundleSignCommand(file, opts, io);
    });
  bundle
    .command('verify')
    .description('verify a bundle as a client would (SPEC §4, §5): exit 0 valid, 1 invalid, 2 bad input')
    .argument('<bundle>', 'the envelope JSON, or - for stdin')
    .option('--public-key <file>', 'trusted public key (repeatable)', collect, [])
    .option('--root-key <file>', 'roles mode (SPEC §7): a root public key the app embeds (repeatable)', collect, [])
    .option('--keyset <file|dir>', 'roles mode: keysets to rotate through first, oldest first (repeatable; a directory: its *.json)', collect, [])
    .option('--trust-expires <date>', "roles mode: the app's trustExpires, YYYY-MM-DD")
    .option('--threshold <n>', 'valid signatures required from the trusted (or root) keys (default 1)')
    .option('--audience <app>', 'require this audience')
    .option('--type <type>', 'require pins, trust-roots or keyset (default: from payloadType)')
    .option('--state <file>', 'JSON file of the last accepted versions: refuses rollbacks, updated on success')
    .option('--json', 'print the verdict as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  pinctl bundle verify pins.bundle --public-key pinctl-signing.pub.pem --audience com.example.app
  pinctl bundle verify keyset-3.json --root-key root/pinctl-root.pub.pem          # signed by the root keys? (SPEC §7.3)
  pinctl bundle verify pins.bundle --root-key root/pinctl-root.pub.pem --keyset data/history/keyset
                                                  # as a fresh app: every keyset from v1, then the bundle`,
    )
    .action(async (file: string, opts) => {
      const { bundleVerifyCommand } = await import('./commands/bundle.js');
      exitCode = await bundleVerifyCommand(file, opts, io);
    });
  bundle
    .command('inspect')
    .description('print payloadType, signatures (key ids) and the decoded payload, without verifying')
    .argument('<bundle>', 'the envelope JSON, or - for stdin')
    .option('--json', 'print {verified: false, payloadType, type, signatures, payload} on stdout')
    .action(async (file: string, opts) => {
      const { bundleInspectCommand } = await import('./commands/bundle.js');
      exitCode = await bundleInspectCommand(file, opts, io);
    });

  program
    .command('serve')
    .description('run the signing service: signed bundles over HTTP, admin publishing, pin-failure reports')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .option('--key <file>', 'private signing key (repeatable)', collect, [])
    .requiredOption('--data <dir>', 'data directory: current bundles, history, counters, logs')
    .option('--audience <app>', 'the app the bundles are for (required on first start; kept in DIR/config.json)')
    .option('--expires-in <duration>', 'validity of each signed bundle: 30m, 12h, 7d', '7d')
    .option('--guard-timeout <duration>', 'pre-publish guard: per address (5s, 500ms)', '5s')
    .option('--reports-rate <rate>', 'POST /v1/reports per client address: N/min, N/s, N/h', '10/min')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain (with --tls-key; re-read on SIGHUP)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--ca-file <file>', 'trust store published trust roots must be in (default: the system store)')
    .option('--root-keyset <file>', 'SPEC §7: the current keyset signed by the offline root keys; served at /v1/keyset/N, must name a --key')
    .option('--root-key <file>', 'SPEC §7: a current root public key (repeatable); keysets are then checked against the root keys', collect, [])
    .option('--root-threshold <n>', 'root signatures a keyset needs (default 1)')
    .addHelpText(
      'after',
      `
The admin token comes from the environment: PINCTL_ADMIN_TOKEN (required).

Examples:
  PINCTL_ADMIN_TOKEN="$(openssl rand -hex 32)" pinctl serve --key pinctl-signing.key --data /var/lib/pinctl --audience com.example.app
  curl -H "Authorization: Bearer $PINCTL_ADMIN_TOKEN" --data-binary @pins.json http://127.0.0.1:8080/v1/bundles/pins`,
    )
    .action(async (opts) => {
      const { serveCommand } = await import('./commands/serve.js');
      exitCode = await serveCommand(opts, io);
    });

  program
    .command('publish')
    .description('write the signed responses as static files at the same paths, for a CDN')
    .requiredOption('--out <dir>', 'site directory: v1/bundles/pins, v1/bundles/trust-roots, v1/keyset/N, v1/keys')
    .option('--data <dir>', 'export what pinctl serve published in this data directory')
    .option('--pins <file>', 'sign this pinctl.pins.v1 JSON now (with --key, --audience, --version)')
    .option('--trust-roots <file>', 'sign these PEM roots now (with --key, --audience, --version)')
    .option('--keyset-bundle <file>', 'add a signed keyset bundle (repeatable)', collect, [])
    .option('--key <file>', 'private signing key (repeatable): signs --pins/--trust-roots, and makes v1/keys', collect, [])
    .option('--public-key <file>', 'public key for v1/keys (repeatable)', collect, [])
    .option('--audience <app>', 'audience of bundles signed now')
    .option('--version <n>', 'version of bundles signed now')
    .option('--expires-in <duration>', 'validity of bundles signed now: 30m, 12h, 7d', '7d')
    .option('--json', 'print the files written as JSON')
    .action(async (opts) => {
      const { publishCommand } = await import('./commands/publish.js');
      exitCode = await publishCommand(opts, io);
    });

  registerMonitor(program, io, (code) => (exitCode = code));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `pinctl help` asked for help (exit 0); no command at all is a usage error (exit 2).
      if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
      io.stderr.write("hint: run 'pinctl --help' for usage and examples\n");
      return 2;
    }
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}
