/** A fixed-offset zone where it is `hour` o'clock now: for tests whose local day or window must not meet midnight
 * whatever time CI runs them. */
export function zoneAtHour(hour: number): string {
  const ahead = (hour - new Date().getUTCHours() + 24) % 24;
  const offset = ahead > 14 ? ahead - 24 : ahead;
  return offset === 0 ? 'Etc/GMT' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`;
}
