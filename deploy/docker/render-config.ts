/**
 * Renders a config template for the jishi image: every `${VAR}` in a value is replaced by the environment
 * variable VAR, with the agent config's rules (agent/env.ts, docs/config.md#environment-variables): values only,
 * after YAML parsing (an environment value can never inject YAML), `$${` for a literal `${`, an unset variable an
 * error. Comments and layout are kept.
 *
 * The production stack keeps the per-installation values (token hashes; later an InfluxDB 2 token) in `.env` and
 * renders deploy/collector.yaml when the container starts (deploy/docker/entrypoint.sh, JISHI_CONFIG_TEMPLATE), so
 * that the file the collector reads says what it runs with. The collector config substitutes `${VAR}` itself as
 * well (since 2026-12), so the rendered file writes every `${` left in a value as `$${`: it reads back as rendered.
 *
 *   node --import tsx deploy/docker/render-config.ts TEMPLATE OUTPUT
 *
 * Exit codes: 0 written (mode 0600), 2 a problem in the template or the environment (every one listed, naming the
 * template), 1 a file could not be read or written.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDocument, visit } from 'yaml';
import { substituteEnv } from '../../common/env.ts';
import { ConfigError, type ConfigIssue } from '../../common/errors.ts';

/**
 * The template with `${VAR}` replaced in every string value.
 * @throws ConfigError (naming `file`) listing YAML errors, invalid references and unset variables.
 */
export function renderConfigTemplate(text: string, file: string, env: Readonly<Record<string, string | undefined>>): string {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', message: `YAML ${e.code}: ${e.message.split('\n')[0]!.replace(/:$/, '')}` })),
    );
  }
  // Every problem at once, with the paths the collector would name.
  const issues: ConfigIssue[] = [];
  substituteEnv(doc.toJS(), env, issues);
  if (issues.length > 0) throw new ConfigError(file, issues);
  visit(doc, {
    // Values only: keys are never substituted (as in the agent config).
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string') return;
      // The collector substitutes `${VAR}` in its config too (common/env.ts): every `${` of the result (from a
      // variable's value, or a template's `$${`) is written `$${`, so that it reads back as the text rendered here.
      const value = (substituteEnv(node.value, env, []) as string).replaceAll('${', () => '$${');
      if (value !== node.value) {
        node.value = value;
        // The style chosen for the reference may not suit the value (a plain `${N}` becoming `123`): let the
        // writer choose one that keeps it a string.
        node.type = undefined;
      }
    },
  });
  return doc.toString({ lineWidth: 0 });
}

function main(argv: readonly string[]): number {
  const [template, output] = argv;
  if (template === undefined || output === undefined || argv.length !== 2) {
    process.stderr.write('usage: render-config.ts TEMPLATE OUTPUT\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(template, 'utf8');
  } catch (err) {
    process.stderr.write(`cannot read the config template ${template}: ${(err as Error).message}\n`);
    return 1;
  }
  let rendered: string;
  try {
    rendered = renderConfigTemplate(text, template, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nSet the variables in .env (deploy/env.example documents them) and pass them to the container.\n`);
    return 2;
  }
  try {
    mkdirSync(dirname(output), { recursive: true, mode: 0o700 });
    writeFileSync(output, rendered, { mode: 0o600 });
  } catch (err) {
    process.stderr.write(`cannot write ${output}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`rendered ${template} -> ${output}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
