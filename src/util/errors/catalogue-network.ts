import type { Catalogue } from "./types.ts";

/**
 * Errors of virtual networks (`conf/network`, `drivers/network`), in libvirt's network error
 * domain (VIR_FROM_NETWORK). Where libvirt reports the same mistake, the template keeps its
 * wording (so stock virsh and tvirsh print the same text); structured details carry the XPath,
 * line and column of the offending node and the accepted values.
 */
export const networkErrors = {
  /** The root element is not `<network>`. */
  NETWORK_UNEXPECTED_ROOT: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "unexpected root element <{found}>, expecting <network>",
  },
  /** `<name>` is missing or empty. */
  NETWORK_NO_NAME: {
    vir: "NO_NAME",
    domain: "NETWORK",
    kind: "user",
    form: "spaced",
    template: "in the network definition: a non-empty <name> element is required",
  },
  NETWORK_INVALID_NAME: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "network name '{name}' is not valid: {reason}",
  },
  /** A value of the wrong form or out of range. */
  NETWORK_INVALID_VALUE: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "invalid value '{value}' for {xpath} (line {line}) in network '{network}': {expected}",
  },
  /** A required attribute or element is absent. */
  NETWORK_MISSING: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "missing {what} at {xpath} (line {line}) in network '{network}'",
  },
  /** A structural rule is broken; `what` is libvirt's wording where it has one. */
  NETWORK_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** Valid XML that this configuration cannot support; `what` is libvirt's wording. */
  NETWORK_CONFIG_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  // --- the network driver (define, start, destroy, lookups) --------------------------------
  /** libvirt: "Network not found: no network with matching name 'x'" (or uuid). */
  NETWORK_NOT_FOUND: {
    vir: "NO_NETWORK",
    domain: "NETWORK",
    kind: "user",
    template: "no network with matching {key} '{value}'",
  },
  /** Start or create of a network that is running (libvirt's wording). */
  NETWORK_ALREADY_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "network is already active",
  },
  /** The test driver's wording for starting a running network. */
  NETWORK_TEST_ALREADY_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "Network '{network}' is already running",
  },
  /** The test driver refuses to undefine a running network (libvirt's wording). */
  NETWORK_TEST_STILL_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "Network '{network}' is still running",
  },
  /** Destroy, leases, … of a network that is not running (libvirt's wording). */
  NETWORK_NOT_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "network is not active",
  },
  /** A guest interface plugged into a network that is not running (libvirt's networkAllocatePort). */
  NETWORK_PORT_NOT_ACTIVE: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "network '{network}' is not active",
  },
  /**
   * Undefine or set autostart of a transient network; `what` is libvirt's wording ("can't
   * undefine transient network", "cannot set autostart for transient network").
   */
  NETWORK_TRANSIENT: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** Define or create under a name held by another UUID, or a UUID held by another name. */
  NETWORK_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "user",
    template: "network '{name}' already exists with uuid {uuid}",
  },
  NETWORK_UUID_EXISTS: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "user",
    template:
      "network '{name}' is already defined with uuid {uuid}: a network's name and uuid belong together",
  },
  /** The bridge the network wants exists already on the host (another network, a user bridge). */
  NETWORK_BRIDGE_IN_USE: {
    vir: "INTERNAL_ERROR",
    prefix: "operation failed",
    domain: "NETWORK",
    kind: "user",
    template:
      "bridge name '{bridge}' of network '{network}' is already in use{by}: choose another <bridge name=> or stop what uses it",
  },
  /**
   * An address range of the network overlaps another active network or a host route (libvirt:
   * "Network is already in use by interface X", reported as an internal error).
   */
  NETWORK_RANGE_IN_USE: {
    vir: "INTERNAL_ERROR",
    prefix: "operation failed",
    domain: "NETWORK",
    kind: "user",
    template:
      "address range {subnet} of network '{network}' is already in use by {user}: choose a range that overlaps no other network or route",
  },
  /** This network's forward mode is not run by this driver yet. */
  NETWORK_MODE_UNSUPPORTED: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template:
      "network '{network}' with forward mode '{mode}' cannot be started: supported are nat, route, open and isolated networks",
  },
  /**
   * The network was started from another network namespace (its status file says which): its
   * bridge, rules and dnsmasq are not reachable from here, so nothing here touches them.
   */
  NETWORK_OTHER_NAMESPACE: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template:
      "network '{network}' runs in network namespace {theirs}, not in this one ({ours}): stop it from there",
  },
  /** `network doctor` asked of a connection whose networks are not this host's. */
  NETWORK_DOCTOR_NOT_LOCAL: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template:
      "network doctor checks the networks of this host, and {uri} {why}: run it on the host that runs the networks",
  },
  /** A host command the network needs failed (ip, nft, iptables, tc). */
  NETWORK_COMMAND_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "environment",
    template: "network '{network}': '{command}' failed: {reason}",
  },
  /** dnsmasq did not start or did not write its pid file. */
  NETWORK_DNSMASQ_UNREACHABLE: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "environment",
    template:
      "network '{network}': dnsmasq runs as user '{user}' and cannot search '{dir}' (mode {mode}) to read the network's host entries: make it searchable (chmod o+x '{dir}') or keep the state root where that user can reach it",
  },
  NETWORK_DNSMASQ_FAILED: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "environment",
    template: "network '{network}': dnsmasq did not start: {reason}",
  },
  /** A network state or config file could not be read or written. */
  NETWORK_STATE_IO: {
    vir: "OPERATION_FAILED",
    domain: "NETWORK",
    kind: "environment",
    template: "network '{network}': cannot {action} '{path}': {reason}",
  },
  // --- net-update (virNetworkUpdate: libvirt's wording, its error numbers) ---------------------
  /** A section libvirt cannot update in place (bridge, domain, ip, forward, forward pf). */
  NETWORK_UPDATE_SECTION_UNSUPPORTED: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "can't update '{section}' section of network '{network}'",
  },
  /** A section number outside virNetworkUpdateSection. */
  NETWORK_UPDATE_SECTION_UNKNOWN: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "can't update unrecognized section of network",
  },
  /** A section tvirt does not update yet (libvirt does): forward-interface. */
  NETWORK_UPDATE_SECTION_NOT_YET: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template:
      "can't update '{section}' section of network '{network}': tvirt updates ip-dhcp-host, ip-dhcp-range, dns-host, dns-txt, dns-srv and portgroup; edit the definition (net-edit) for the rest",
  },
  /** A command number outside virNetworkUpdateCommand. */
  NETWORK_UPDATE_COMMAND_UNKNOWN: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "unrecognized network update command code {command}",
  },
  /** `modify` of a section whose entries can only be added or deleted; `what` is libvirt's text. */
  NETWORK_UPDATE_NO_MODIFY: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** The update's element is not the section's. */
  NETWORK_UPDATE_WRONG_ELEMENT: {
    vir: "XML_ERROR",
    domain: "NETWORK",
    kind: "user",
    template: "unexpected element <{found}>, expecting <{expected}>, while updating network '{network}'",
  },
  /** No `<ip>` to update the DHCP entries of; `at` is " at index N" or empty. */
  NETWORK_UPDATE_NO_IP: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "couldn't update dhcp host entry - no <ip> element found{at} in network '{network}'",
  },
  /** An entry to add exists already; `what` is libvirt's text naming it. */
  NETWORK_UPDATE_EXISTS: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** No entry matches the one to modify or delete (or more than one does); libvirt's text. */
  NETWORK_UPDATE_NO_MATCH: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "{what}",
  },
  /** The entry's address family is not its `<ip>`'s. */
  NETWORK_UPDATE_FAMILY: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "the address family of a {entry} must match the address family of the dhcp element's parent",
  },
  /** DHCP entries on a second `<ip>` of one family. */
  NETWORK_UPDATE_MULTI_DHCP: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "dhcp is supported only for a single {family} address on each network",
  },
  /** `--live` on a network that is not running (libvirt's wording). */
  NETWORK_UPDATE_NOT_RUNNING: {
    vir: "OPERATION_INVALID",
    domain: "NETWORK",
    kind: "user",
    template: "network is not running",
  },
} as const satisfies Catalogue<"NETWORK">;
