/**
 * The `-incoming` source libvirt's test harness gives a case (it is not part of the XML): the
 * restore cases of the corpus are declared with migrate-from `exec:cat`, the migration cases
 * with a TCP or stdio source.
 */
export function harnessIncoming(caseName: string): string | undefined {
  if (caseName.startsWith("restore")) return "exec:cat";
  if (caseName.startsWith("migrate-numa") || caseName === "migrate") return "tcp:10.0.0.1:5000";
  return undefined;
}
