/**
 * `${VAR}` substitution in config values (agent and collector configs, and the image's config templates),
 * applied to every string after YAML parsing (so a value can never inject YAML). `$${` writes a literal `${`.
 * An unset variable is a config issue.
 */
import type { ConfigIssue } from './errors.ts';

const PATTERN = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Returns a copy of `value` with `${VAR}` replaced in every string; problems are appended to `issues`. */
export function substituteEnv(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
  path = '',
): unknown {
  if (typeof value === 'string') return substituteString(value, env, issues, path);
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, issues, `${path}/${i}`));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, issues, `${path}/${k}`);
    return out;
  }
  return value;
}

function substituteString(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
  path: string,
): string {
  return text.replace(PATTERN, (match, name: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined || !NAME.test(name)) {
      issues.push({ path, value: match, message: 'invalid ${VAR} reference (write $${ for a literal ${)' });
      return match;
    }
    const v = env[name];
    if (v === undefined) {
      issues.push({ path, message: `environment variable ${name} is not set` });
      return '';
    }
    return v;
  });
}
