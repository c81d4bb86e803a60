/**
 * The IP addresses that say something about a VM's identity: without a prefix length, lower-case, without the ones
 * every guest has (loopback, link-local, unspecified), deduplicated and sorted. Shared by the engine (beacon and scan
 * claims), the agent (what it reports) and the views.
 */
export function cleanIps(ips: readonly unknown[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of ips ?? []) {
    const ip = String(raw)
      .toLowerCase()
      .replace(/\/\d+$/, '');
    if (!ip || ip.startsWith('127.') || ip === '::1' || ip === '::' || ip === '0.0.0.0') continue;
    if (ip.startsWith('169.254.') || ip.startsWith('fe80:')) continue;
    out.push(ip);
  }
  return out.length > 1 ? [...new Set(out)].sort() : out;
}
