import { ConfigError, loadConfig } from '../../common/config.js';

/** The lines a bad environment is refused with (none when it is fine). */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
