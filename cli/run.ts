/**
 * The CLI as a function: run(argv, io) → exit code. 0 ok, 1 a check failed, 2 usage or input
 * error. Nothing here calls process.exit; heavy modules (ink, the demo server) load only when used.
 */
import { Command, CommanderError, Option } from 'commander';
import { CliIO } from './io.js';
import { printError } from './style.js';
import { PinctlError } from '../src/errors.js';
import { VERSION } from './version.js';

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
      .option('--new-backup-key <dir>', 'create a spare P-256 key pair and CSR in DIR and pin it as a backup')
      .option('--include-subdomains', 'pin every subdomain too (platforms differ: see docs/FORMATS.md)')
      .option('--expiration <YYYY-MM-DD>', 'pin-set expiration (default: one year from today)')
      .option('--format <list>', 'android, ios, okhttp, trustkit, react-native, json (comma list or repeated)', list, [])
      .option('--out <dir>', 'write the config files to DIR (default: stdout)')
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
  pinctl generate api.example.com --resolve api.example.com:443:203.0.113.10 --ca-file private-root.pem`,
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

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') return 2; // no command given: usage went to stderr
      io.stderr.write("hint: run 'pinctl --help' for usage and examples\n");
      return 2;
    }
    printError(io, e);
    return e instanceof PinctlError ? e.exitCode : 2;
  }
}
