/**
 * The `jishi` command line. Each subcommand's implementation is imported lazily so that
 * `jishi --help` stays fast and a broken optional part cannot stop the others.
 */
import { Command, Option } from 'commander';
import { JISHI_VERSION } from '../collector/version.ts';
import { ConfigError } from '../common/errors.ts';
import { LOG_LEVELS } from '../common/log.ts';
import { dayArg, intOption, numberOption } from './options.ts';

function logLevelOption(defaultLevel?: string, note = ''): Option {
  const option = new Option('--log-level <level>', `log verbosity${note}`).choices([...LOG_LEVELS]);
  return defaultLevel === undefined ? option : option.default(defaultLevel);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('jishi')
    .description(
      'jishi (机时): measures how much shared research instruments are really used. Agents read power meters, smart plugs and instrument ports beside each instrument; the collector stores the readings and computes live state and hours.',
    )
    .version(JISHI_VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nStart here:\n  jishi demo              simulated instruments, agent and collector in one process   jishi <command> --help  every option of a command\n\nDocs: README.md, docs/config.md, docs/metric-schema.md',
    );

  program
    .command('demo')
    .description(
      'Run a self-contained demo: simulated instruments following realistic power traces on every transport (energy meters on a Modbus TCP gateway and an RTU-over-TCP serial server, smart plugs on an embedded MQTT broker and, with socat installed, a Modbus RTU meter and a status-line instrument on serial lines), an agent reading them, and a collector on the embedded store. No server to install. Prints which instrument is on which transport, the URL to open and a live table; Ctrl-C stops everything.',
    )
    .option('-p, --port <port>', 'HTTP port of the collector (0 picks a free port)', intOption('--port', 0, 65535), 8080)
    .option('--host <address>', 'address the collector listens on', '127.0.0.1')
    .option('-d, --data <dir>', 'data directory for the embedded store and the demo log', './jishi-demo-data')
    .option('--modbus-port <port>', 'TCP port of the simulated Modbus TCP gateway (0 picks a free port)', intOption('--modbus-port', 0, 65535), 0)
    .option('--poll <seconds>', 'how often the agent reads each simulated instrument', numberOption('--poll', 0.2, 3600), 1)
    .option('--duration <seconds>', 'stop by itself after this many seconds (default: run until Ctrl-C)', numberOption('--duration', 1, 31_536_000))
    .option('--no-table', 'do not draw the live table; print one status line per refresh instead')
    .option('--no-serial', 'leave out the instruments on serial lines (otherwise included when socat is installed)')
    .addOption(logLevelOption('info'))
    .addHelpText(
      'after',
      '\nThe demo writes its logs to <data>/demo.log, so the terminal shows only the table.\nThe serial instruments need socat (apt-get install socat); without it they are left out with a note.\nExample:\n  jishi demo --port 8080 --data /tmp/jishi-demo',
    )
    .action(async (opts) => {
      const { runDemo } = await import('./demo.ts');
      await runDemo(opts);
    });

  program
    .command('agent')
    .description(
      'Run the agent: poll the instruments listed in a config file and send readings to the collector. `jishi agent status` asks the running agent how it is doing instead.',
    )
    .argument('[action]', 'status: show the running agent\'s health (devices, outbox backlog, last delivery, clock skew) from its health endpoint')
    .requiredOption('-c, --config <file>', 'agent config file (YAML; reference: docs/config.md)')
    .option('--check', 'validate the config file, print a summary and exit (exit code 2 if invalid)')
    .option('--json', 'with status: print the health endpoint\'s JSON')
    .addOption(logLevelOption('info'))
    .addHelpText(
      'after',
      '\nExamples:\n  JISHI_AGENT_TOKEN=... jishi agent --config /etc/jishi/agent.yaml\n  jishi agent status --config /etc/jishi/agent.yaml    (exit code 1 when no agent answers)',
    )
    .action(async (action: string | undefined, opts) => {
      if (action === undefined) {
        if (opts.json) throw new Error('--json goes with `jishi agent status`');
        const { runAgentCommand } = await import('./agent-command.ts');
        await runAgentCommand(opts);
      } else if (action === 'status') {
        if (opts.check) throw new Error('--check does not go with `jishi agent status`');
        const { runAgentStatus } = await import('./agent-command.ts');
        await runAgentStatus(opts);
      } else {
        throw new Error(`unknown agent action "${action}" (known: status)`);
      }
    });

  program
    .command('collector')
    .description('Run the collector: accept batches from agents, store them, compute live state, forward to InfluxDB.')
    .option('-c, --config <file>', 'collector config file (YAML; reference: docs/config.md)')
    .option('--host <address>', 'listen address (overrides listen.host)')
    .option('-p, --port <port>', 'listen port (overrides listen.port; 0 picks a free port)', intOption('--port', 0, 65535))
    .option('-d, --data <dir>', 'data directory of the embedded store (overrides data_dir)')
    .option('--influx-url <url>', 'forward readings to this InfluxDB 1.x, e.g. http://127.0.0.1:8086 (overrides influx.url)')
    .option('--influx-db <name>', 'InfluxDB database (overrides influx.database)')
    .option('--check', 'validate the config file, print a summary and exit (exit code 2 if invalid)')
    .addOption(logLevelOption(undefined, ' (default: log_level in the config, else info)'))
    .addHelpText('after', '\nExample:\n  jishi collector --config /etc/jishi/collector.yaml\n  jishi collector --port 8080 --data /var/lib/jishi --influx-url http://127.0.0.1:8086')
    .action(async (opts) => {
      const { runCollectorCommand } = await import('./collector-command.ts');
      await runCollectorCommand(opts);
    });

  const storeOptions = (cmd: Command): Command =>
    cmd
      .option('-c, --config <file>', 'collector config file (thresholds, time zone, data_dir); default: defaults')
      .option('-d, --data <dir>', "the collector's data directory (overrides data_dir)");
  const dayOption = (flag: string, what: string) => new Option(flag, what).argParser(dayArg(flag.split(' ')[0]!));

  storeOptions(
    program
      .command('recompute')
      .description(
        'Rebuild states, sessions and daily rollups from the stored readings: after a threshold change, or when late data arrived. Idempotent. Run it with the collector stopped (it holds the data directory).',
      ),
  )
    .addOption(dayOption('--from <day>', 'first local day to rebuild, YYYY-MM-DD (default: from the first reading)'))
    .addOption(dayOption('--to <day>', 'last local day of interest, YYYY-MM-DD; later states are rebuilt too, as each carries into the next'))
    .option('-i, --instrument <id...>', 'only these instruments (repeat or comma-separate; default: all with readings)')
    .addHelpText('after', '\nExample:\n  jishi recompute --config /etc/jishi/collector.yaml --from 2025-01-01 --instrument FCM-2019-001')
    .action(async (opts) => {
      const { runRecompute } = await import('./recompute-command.ts');
      await runRecompute(opts);
    });

  storeOptions(
    program
      .command('calibrate')
      .description(
        'Propose off/standby/active thresholds for an instrument from the distribution of its observed power, with a text histogram showing why.',
      )
      .argument('<instrument>', 'instrument id'),
  )
    .addOption(dayOption('--from <day>', 'first local day to look at, YYYY-MM-DD (default: 30 days before --to)'))
    .addOption(dayOption('--to <day>', 'last local day to look at, YYYY-MM-DD (default: today)'))
    .option('--bins <n>', 'histogram bins', intOption('--bins', 5, 200))
    .option('--json', 'print the histogram, levels and proposal as JSON')
    .addHelpText('after', '\nExample:\n  jishi calibrate FCM-2019-001 --data /var/lib/jishi --from 2025-03-01 --to 2025-03-31')
    .action(async (instrument: string, opts) => {
      const { runCalibrate } = await import('./calibrate-command.ts');
      await runCalibrate(instrument, opts);
    });

  const exportCommand = program.command('export').description('Reports for the open-sharing assessment.');
  storeOptions(
    exportCommand
      .command('annual')
      .description(
        'The annual assessment export: one row per instrument (Chinese column headers), totals, every session as evidence, booking mismatches and the data coverage. Run with the collector stopped, or use GET /api/v1/exports/annual on a running one.',
      ),
  )
    .requiredOption('--year <year>', 'calendar year in the collector time zone, e.g. 2025', intOption('--year', 2000, 2100))
    .option('--format <format>', 'xlsx (default), csv (three files: FILE, FILE-sessions.csv, FILE-mismatches.csv), html (one-page summary with a chart) or json', 'xlsx')
    .requiredOption('--out <file>', 'file to write, e.g. jishi-2025.xlsx')
    .addHelpText('after', '\nExamples:\n  jishi export annual --config /etc/jishi/collector.yaml --year 2025 --out 2025.xlsx\n  jishi export annual --data /var/lib/jishi --year 2025 --format html --out 2025.html')
    .action(async (opts) => {
      const { EXPORT_FORMATS, runExportAnnual } = await import('./sharing-command.ts');
      if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) throw new Error(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${opts.format}"`);
      await runExportAnnual(opts);
    });

  const bookingsCommand = program.command('bookings').description('Booking and usage records, matched to measured sessions.');
  storeOptions(
    bookingsCommand
      .command('import')
      .description(
        'Import a bookings CSV or .xlsx workbook (columns: instrument, start, end, user, organisation, kind, purpose, fee, samples; see docs/sharing.md). Bad rows are reported by line number and left out; the good ones are stored, and importing a file again adds nothing twice. Run with the collector stopped, or POST the file to /api/v1/bookings.',
      )
      .argument('<file>', 'CSV file with a header row, UTF-8 or GBK (Excel\'s "CSV UTF-8" and plain "CSV" both work), or an Excel workbook (.xlsx: its first sheet with data)'),
  )
    .option('--strict', 'store nothing when any row is bad')
    .option('--dry-run', 'check the file against the store and say what an import would do; store nothing')
    .addHelpText('after', '\nExamples:\n  jishi bookings import bookings-2025.csv --config /etc/jishi/collector.yaml --dry-run\n  jishi bookings import bookings-2025.csv --config /etc/jishi/collector.yaml')
    .action(async (file: string, opts) => {
      const { runBookingsImport } = await import('./sharing-command.ts');
      process.exitCode = await runBookingsImport(file, opts);
    });

  program
    .command('profiles')
    .description('List the device profiles of the catalog: what each reads and over which transports.')
    .option('--json', 'print the profiles (register maps included) as JSON')
    .action(async (opts) => {
      const { runProfiles } = await import('./probe-command.ts');
      runProfiles(opts);
    });

  program
    .command('probe')
    .description('Read a device once with a profile and print the decoded readings: to check wiring, unit id and profile.')
    .argument('<profile>', 'profile id (jishi profiles lists them), e.g. eastron-sdm120')
    .argument('<transport-url>', 'how to reach the device, e.g. modbus-tcp://192.0.2.10:502?unit=1')
    .option('--json', 'print the readings as JSON')
    .option('--raw', 'also print what came off the wire (register words in hex, serial lines, MQTT payloads)')
    .option('--wait <s>', 'seconds to wait for the first values of a device that sends by itself (default 30 for MQTT and serial listen mode, 0 for polled devices)', numberOption('--wait', 0, 3600))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  jishi probe eastron-sdm120 "modbus-tcp://192.0.2.10:502?unit=1" --raw',
        '  jishi probe eastron-sdm120 "modbus-rtu:///dev/ttyUSB0?baud=2400&unit=3"',
        '  jishi probe tasmota-plug mqtt://192.0.2.20/plug1      (waits for the plug\'s next message)',
        '  jishi probe generic-scpi "serial:///dev/ttyUSB1?baud=9600"',
      ].join('\n'),
    )
    .action(async (profile: string, url: string, opts) => {
      const { runProbe } = await import('./probe-command.ts');
      await runProbe(profile, url, opts);
    });

  program
    .command('ports')
    .description('List the serial ports of this computer (USB adapters first), for modbus-rtu:// and serial:// transports.')
    .option('--json', 'print the ports as JSON')
    .addHelpText('after', '\nPrefer the stable /dev/serial/by-id/... names over ttyUSBn, whose number can change at boot.')
    .action(async (opts) => {
      const { runPorts } = await import('./ports-command.ts');
      await runPorts(opts);
    });

  program
    .command('token')
    .description(
      'Make a new bearer token for an agent (or an admin, or a viewer) and print where each half goes; with --config, also write its hash into the collector config. --list and --revoke manage the tokens of a config file.',
    )
    .argument('[id]', 'id of the agent (agent.id in its config), admin or viewer')
    .option('--admin', 'a token for registry and booking changes through the API (admins in the collector config)')
    .option('--viewer', 'a read-only token (viewers in the collector config; used with read_access: token)')
    .option('-c, --config <file>', 'collector config file to write the new hash into (or to --list / --revoke in); comments are kept')
    .option('--list', 'list the agents, admins and viewers of --config and their token hashes')
    .option('--revoke', 'remove <id> from --config: its token stops working when the collector restarts')
    .addHelpText('after', '\nExamples:\n  jishi token lab-pc-1\n  jishi token asset-office --admin --config /etc/jishi/collector.yaml\n  jishi token --list --config /etc/jishi/collector.yaml\n  jishi token lab-pc-1 --revoke --config /etc/jishi/collector.yaml')
    .action(async (id: string | undefined, opts: { admin?: boolean; viewer?: boolean; config?: string; list?: boolean; revoke?: boolean }) => {
      const { adminTokenInstructions, editTokens, newToken, tokenInstructions, viewerTokenInstructions } = await import('./token.ts');
      const { sha256Hex } = await import('../collector/auth.ts');
      if (opts.admin && opts.viewer) throw new Error('--admin and --viewer exclude each other');
      if ((opts.list || opts.revoke) && !opts.config) throw new Error('--list and --revoke need --config <collector config file>');
      if (opts.list) {
        const { entries } = await editTokens(opts.config!, {});
        process.stdout.write(entries.length === 0 ? 'no tokens in this config\n' : `${entries.map((e) => `${e.kind.padEnd(6)} ${e.id.padEnd(24)} sha256 ${e.hash.slice(0, 12)}...`).join('\n')}\n`);
        return;
      }
      if (id === undefined) throw new Error('missing <id>: the agent, admin or viewer the token is for');
      if (opts.revoke) {
        const { removed } = await editTokens(opts.config!, { revoke: id });
        process.stdout.write(`removed ${removed.map((r) => `${r.kind} ${r.id}`).join(', ')} from ${opts.config}; restart the collector for it to take effect\n`);
        return;
      }
      const token = newToken();
      const kind = opts.admin ? 'admin' : opts.viewer ? 'viewer' : 'agent';
      process.stdout.write(kind === 'admin' ? adminTokenInstructions(id, token) : kind === 'viewer' ? viewerTokenInstructions(id, token) : tokenInstructions(id, token));
      if (opts.config) {
        await editTokens(opts.config, { add: { kind, id, hash: sha256Hex(token) } });
        process.stdout.write(`written to ${opts.config}; restart the collector for it to take effect\n`);
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    // Imported up front, not here: a long-running command must not load code late (the bundle it started from may
    // have been replaced by then).
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    // A user-facing message; the stack only when asked for (JISHI_DEBUG=1).
    const detail = err instanceof Error ? (process.env.JISHI_DEBUG ? (err.stack ?? err.message) : err.message) : String(err);
    process.stderr.write(`jishi: ${detail}\n`);
    process.exitCode = 1;
  }
}
