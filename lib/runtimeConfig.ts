/** Runtime configuration overrides: none on iOS and Android, where the build-time values are final. */
import type { RawEnv } from '@/constants/config';

export async function loadRuntimeEnv(): Promise<RawEnv | null> {
  return null;
}
