/**
 * Key codes of virDomainSendKey (libvirt's virkeycode.c): the code sets by virsh's names, key
 * names (Linux `KEY_*`, Win32 `VK_*`) and translation to QEMU's `qnum` (the PC XT set 1 scan
 * code, extended `e0 xx` keys as `0x80 | xx`), which QMP `send-key` takes.
 *
 * The table covers the keys of a PC 105-key keyboard plus the common multimedia and ACPI keys,
 * written from the PC scan code (sets 1, 2 and 3), USB HID usage, Win32 virtual-key and OS X
 * virtual key code standards. A key a code set has no code for translates to nothing:
 * virDomainSendKey then fails with libvirt's "cannot translate keycode" error rather than
 * pressing a wrong key.
 */

/** `virKeycodeSet` numbers by virsh's `--codeset` names (`rfb` is libvirt's old name of qnum). */
export const KEYCODE_SETS: Readonly<Record<string, number>> = {
  linux: 0,
  xt: 1,
  atset1: 2,
  atset2: 3,
  atset3: 4,
  os_x: 5,
  xt_kbd: 6,
  usb: 7,
  win32: 8,
  qnum: 9,
  rfb: 9,
};

/** The name libvirt prints for a code set number (virKeycodeSetTypeToString). */
export function keycodeSetName(set: number): string {
  return (
    ["linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum"][set] ??
    String(set)
  );
}

/** One key: Linux name and code, qnum, USB HID usage (page 7), Win32 virtual key. */
type Row = readonly [
  name: string,
  linux: number,
  qnum: number,
  usb: number | null,
  win32: string | null,
  vk: number | null,
];

// prettier-ignore
const ROWS: readonly Row[] = [
  ["KEY_ESC", 1, 0x01, 41, "VK_ESCAPE", 0x1b],
  ["KEY_1", 2, 0x02, 30, "VK_1", 0x31],
  ["KEY_2", 3, 0x03, 31, "VK_2", 0x32],
  ["KEY_3", 4, 0x04, 32, "VK_3", 0x33],
  ["KEY_4", 5, 0x05, 33, "VK_4", 0x34],
  ["KEY_5", 6, 0x06, 34, "VK_5", 0x35],
  ["KEY_6", 7, 0x07, 35, "VK_6", 0x36],
  ["KEY_7", 8, 0x08, 36, "VK_7", 0x37],
  ["KEY_8", 9, 0x09, 37, "VK_8", 0x38],
  ["KEY_9", 10, 0x0a, 38, "VK_9", 0x39],
  ["KEY_0", 11, 0x0b, 39, "VK_0", 0x30],
  ["KEY_MINUS", 12, 0x0c, 45, "VK_OEM_MINUS", 0xbd],
  ["KEY_EQUAL", 13, 0x0d, 46, "VK_OEM_PLUS", 0xbb],
  ["KEY_BACKSPACE", 14, 0x0e, 42, "VK_BACK", 0x08],
  ["KEY_TAB", 15, 0x0f, 43, "VK_TAB", 0x09],
  ["KEY_Q", 16, 0x10, 20, "VK_Q", 0x51],
  ["KEY_W", 17, 0x11, 26, "VK_W", 0x57],
  ["KEY_E", 18, 0x12, 8, "VK_E", 0x45],
  ["KEY_R", 19, 0x13, 21, "VK_R", 0x52],
  ["KEY_T", 20, 0x14, 23, "VK_T", 0x54],
  ["KEY_Y", 21, 0x15, 28, "VK_Y", 0x59],
  ["KEY_U", 22, 0x16, 24, "VK_U", 0x55],
  ["KEY_I", 23, 0x17, 12, "VK_I", 0x49],
  ["KEY_O", 24, 0x18, 18, "VK_O", 0x4f],
  ["KEY_P", 25, 0x19, 19, "VK_P", 0x50],
  ["KEY_LEFTBRACE", 26, 0x1a, 47, "VK_OEM_4", 0xdb],
  ["KEY_RIGHTBRACE", 27, 0x1b, 48, "VK_OEM_6", 0xdd],
  ["KEY_ENTER", 28, 0x1c, 40, "VK_RETURN", 0x0d],
  ["KEY_LEFTCTRL", 29, 0x1d, 224, "VK_LCONTROL", 0xa2],
  ["KEY_A", 30, 0x1e, 4, "VK_A", 0x41],
  ["KEY_S", 31, 0x1f, 22, "VK_S", 0x53],
  ["KEY_D", 32, 0x20, 7, "VK_D", 0x44],
  ["KEY_F", 33, 0x21, 9, "VK_F", 0x46],
  ["KEY_G", 34, 0x22, 10, "VK_G", 0x47],
  ["KEY_H", 35, 0x23, 11, "VK_H", 0x48],
  ["KEY_J", 36, 0x24, 13, "VK_J", 0x4a],
  ["KEY_K", 37, 0x25, 14, "VK_K", 0x4b],
  ["KEY_L", 38, 0x26, 15, "VK_L", 0x4c],
  ["KEY_SEMICOLON", 39, 0x27, 51, "VK_OEM_1", 0xba],
  ["KEY_APOSTROPHE", 40, 0x28, 52, "VK_OEM_7", 0xde],
  ["KEY_GRAVE", 41, 0x29, 53, "VK_OEM_3", 0xc0],
  ["KEY_LEFTSHIFT", 42, 0x2a, 225, "VK_LSHIFT", 0xa0],
  ["KEY_BACKSLASH", 43, 0x2b, 49, "VK_OEM_5", 0xdc],
  ["KEY_Z", 44, 0x2c, 29, "VK_Z", 0x5a],
  ["KEY_X", 45, 0x2d, 27, "VK_X", 0x58],
  ["KEY_C", 46, 0x2e, 6, "VK_C", 0x43],
  ["KEY_V", 47, 0x2f, 25, "VK_V", 0x56],
  ["KEY_B", 48, 0x30, 5, "VK_B", 0x42],
  ["KEY_N", 49, 0x31, 17, "VK_N", 0x4e],
  ["KEY_M", 50, 0x32, 16, "VK_M", 0x4d],
  ["KEY_COMMA", 51, 0x33, 54, "VK_OEM_COMMA", 0xbc],
  ["KEY_DOT", 52, 0x34, 55, "VK_OEM_PERIOD", 0xbe],
  ["KEY_SLASH", 53, 0x35, 56, "VK_OEM_2", 0xbf],
  ["KEY_RIGHTSHIFT", 54, 0x36, 229, "VK_RSHIFT", 0xa1],
  ["KEY_KPASTERISK", 55, 0x37, 85, "VK_MULTIPLY", 0x6a],
  ["KEY_LEFTALT", 56, 0x38, 226, "VK_LMENU", 0xa4],
  ["KEY_SPACE", 57, 0x39, 44, "VK_SPACE", 0x20],
  ["KEY_CAPSLOCK", 58, 0x3a, 57, "VK_CAPITAL", 0x14],
  ["KEY_F1", 59, 0x3b, 58, "VK_F1", 0x70],
  ["KEY_F2", 60, 0x3c, 59, "VK_F2", 0x71],
  ["KEY_F3", 61, 0x3d, 60, "VK_F3", 0x72],
  ["KEY_F4", 62, 0x3e, 61, "VK_F4", 0x73],
  ["KEY_F5", 63, 0x3f, 62, "VK_F5", 0x74],
  ["KEY_F6", 64, 0x40, 63, "VK_F6", 0x75],
  ["KEY_F7", 65, 0x41, 64, "VK_F7", 0x76],
  ["KEY_F8", 66, 0x42, 65, "VK_F8", 0x77],
  ["KEY_F9", 67, 0x43, 66, "VK_F9", 0x78],
  ["KEY_F10", 68, 0x44, 67, "VK_F10", 0x79],
  ["KEY_NUMLOCK", 69, 0x45, 83, "VK_NUMLOCK", 0x90],
  ["KEY_SCROLLLOCK", 70, 0x46, 71, "VK_SCROLL", 0x91],
  ["KEY_KP7", 71, 0x47, 95, "VK_NUMPAD7", 0x67],
  ["KEY_KP8", 72, 0x48, 96, "VK_NUMPAD8", 0x68],
  ["KEY_KP9", 73, 0x49, 97, "VK_NUMPAD9", 0x69],
  ["KEY_KPMINUS", 74, 0x4a, 86, "VK_SUBTRACT", 0x6d],
  ["KEY_KP4", 75, 0x4b, 92, "VK_NUMPAD4", 0x64],
  ["KEY_KP5", 76, 0x4c, 93, "VK_NUMPAD5", 0x65],
  ["KEY_KP6", 77, 0x4d, 94, "VK_NUMPAD6", 0x66],
  ["KEY_KPPLUS", 78, 0x4e, 87, "VK_ADD", 0x6b],
  ["KEY_KP1", 79, 0x4f, 89, "VK_NUMPAD1", 0x61],
  ["KEY_KP2", 80, 0x50, 90, "VK_NUMPAD2", 0x62],
  ["KEY_KP3", 81, 0x51, 91, "VK_NUMPAD3", 0x63],
  ["KEY_KP0", 82, 0x52, 98, "VK_NUMPAD0", 0x60],
  ["KEY_KPDOT", 83, 0x53, 99, "VK_DECIMAL", 0x6e],
  ["KEY_102ND", 86, 0x56, 100, "VK_OEM_102", 0xe1],
  ["KEY_F11", 87, 0x57, 68, "VK_F11", 0x7a],
  ["KEY_F12", 88, 0x58, 69, "VK_F12", 0x7b],
  ["KEY_KPENTER", 96, 0x9c, 88, null, null],
  ["KEY_RIGHTCTRL", 97, 0x9d, 228, "VK_RCONTROL", 0xa3],
  ["KEY_KPSLASH", 98, 0xb5, 84, "VK_DIVIDE", 0x6f],
  ["KEY_SYSRQ", 99, 0x54, 70, null, null],
  ["KEY_RIGHTALT", 100, 0xb8, 230, "VK_RMENU", 0xa5],
  ["KEY_HOME", 102, 0xc7, 74, "VK_HOME", 0x24],
  ["KEY_UP", 103, 0xc8, 82, "VK_UP", 0x26],
  ["KEY_PAGEUP", 104, 0xc9, 75, "VK_PRIOR", 0x21],
  ["KEY_LEFT", 105, 0xcb, 80, "VK_LEFT", 0x25],
  ["KEY_RIGHT", 106, 0xcd, 79, "VK_RIGHT", 0x27],
  ["KEY_END", 107, 0xcf, 77, "VK_END", 0x23],
  ["KEY_DOWN", 108, 0xd0, 81, "VK_DOWN", 0x28],
  ["KEY_PAGEDOWN", 109, 0xd1, 78, "VK_NEXT", 0x22],
  ["KEY_INSERT", 110, 0xd2, 73, "VK_INSERT", 0x2d],
  ["KEY_DELETE", 111, 0xd3, 76, "VK_DELETE", 0x2e],
  ["KEY_MUTE", 113, 0xa0, 127, "VK_VOLUME_MUTE", 0xad],
  ["KEY_VOLUMEDOWN", 114, 0xae, 129, "VK_VOLUME_DOWN", 0xae],
  ["KEY_VOLUMEUP", 115, 0xb0, 128, "VK_VOLUME_UP", 0xaf],
  ["KEY_POWER", 116, 0xde, 102, null, null],
  ["KEY_KPEQUAL", 117, 0x59, 103, null, null],
  ["KEY_PAUSE", 119, 0xc6, 72, "VK_PAUSE", 0x13],
  ["KEY_LEFTMETA", 125, 0xdb, 227, "VK_LWIN", 0x5b],
  ["KEY_RIGHTMETA", 126, 0xdc, 231, "VK_RWIN", 0x5c],
  ["KEY_COMPOSE", 127, 0xdd, 101, "VK_APPS", 0x5d],
  ["KEY_SLEEP", 142, 0xdf, null, "VK_SLEEP", 0x5f],
  ["KEY_WAKEUP", 143, 0xe3, null, null, null],
];

/**
 * AT set 2 and set 3 scan codes (make codes; set 2 extended keys as `e0xx`, as libvirt writes
 * them) and OS X virtual key codes (`kVK_*`) of the keys above, by Linux name. Keys a set has no
 * agreed code for are left out: they translate to nothing rather than to a wrong key.
 */
// prettier-ignore
const MORE: Readonly<Record<string, readonly [atset2: number | null, atset3: number | null, osx: number | null]>> = {
  KEY_ESC: [0x76, 0x08, 0x35], KEY_1: [0x16, 0x16, 0x12], KEY_2: [0x1e, 0x1e, 0x13],
  KEY_3: [0x26, 0x26, 0x14], KEY_4: [0x25, 0x25, 0x15], KEY_5: [0x2e, 0x2e, 0x17],
  KEY_6: [0x36, 0x36, 0x16], KEY_7: [0x3d, 0x3d, 0x1a], KEY_8: [0x3e, 0x3e, 0x1c],
  KEY_9: [0x46, 0x46, 0x19], KEY_0: [0x45, 0x45, 0x1d], KEY_MINUS: [0x4e, 0x4e, 0x1b],
  KEY_EQUAL: [0x55, 0x55, 0x18], KEY_BACKSPACE: [0x66, 0x66, 0x33], KEY_TAB: [0x0d, 0x0d, 0x30],
  KEY_Q: [0x15, 0x15, 0x0c], KEY_W: [0x1d, 0x1d, 0x0d], KEY_E: [0x24, 0x24, 0x0e],
  KEY_R: [0x2d, 0x2d, 0x0f], KEY_T: [0x2c, 0x2c, 0x11], KEY_Y: [0x35, 0x35, 0x10],
  KEY_U: [0x3c, 0x3c, 0x20], KEY_I: [0x43, 0x43, 0x22], KEY_O: [0x44, 0x44, 0x1f],
  KEY_P: [0x4d, 0x4d, 0x23], KEY_LEFTBRACE: [0x54, 0x54, 0x21], KEY_RIGHTBRACE: [0x5b, 0x5b, 0x1e],
  KEY_ENTER: [0x5a, 0x5a, 0x24], KEY_LEFTCTRL: [0x14, 0x11, 0x3b], KEY_A: [0x1c, 0x1c, 0x00],
  KEY_S: [0x1b, 0x1b, 0x01], KEY_D: [0x23, 0x23, 0x02], KEY_F: [0x2b, 0x2b, 0x03],
  KEY_G: [0x34, 0x34, 0x05], KEY_H: [0x33, 0x33, 0x04], KEY_J: [0x3b, 0x3b, 0x26],
  KEY_K: [0x42, 0x42, 0x28], KEY_L: [0x4b, 0x4b, 0x25], KEY_SEMICOLON: [0x4c, 0x4c, 0x29],
  KEY_APOSTROPHE: [0x52, 0x52, 0x27], KEY_GRAVE: [0x0e, 0x0e, 0x32], KEY_LEFTSHIFT: [0x12, 0x12, 0x38],
  KEY_BACKSLASH: [0x5d, 0x5c, 0x2a], KEY_Z: [0x1a, 0x1a, 0x06], KEY_X: [0x22, 0x22, 0x07],
  KEY_C: [0x21, 0x21, 0x08], KEY_V: [0x2a, 0x2a, 0x09], KEY_B: [0x32, 0x32, 0x0b],
  KEY_N: [0x31, 0x31, 0x2d], KEY_M: [0x3a, 0x3a, 0x2e], KEY_COMMA: [0x41, 0x41, 0x2b],
  KEY_DOT: [0x49, 0x49, 0x2f], KEY_SLASH: [0x4a, 0x4a, 0x2c], KEY_RIGHTSHIFT: [0x59, 0x59, 0x3c],
  KEY_KPASTERISK: [0x7c, 0x7e, 0x43], KEY_LEFTALT: [0x11, 0x19, 0x3a], KEY_SPACE: [0x29, 0x29, 0x31],
  KEY_CAPSLOCK: [0x58, 0x14, 0x39], KEY_F1: [0x05, 0x07, 0x7a], KEY_F2: [0x06, 0x0f, 0x78],
  KEY_F3: [0x04, 0x17, 0x63], KEY_F4: [0x0c, 0x1f, 0x76], KEY_F5: [0x03, 0x27, 0x60],
  KEY_F6: [0x0b, 0x2f, 0x61], KEY_F7: [0x83, 0x37, 0x62], KEY_F8: [0x0a, 0x3f, 0x64],
  KEY_F9: [0x01, 0x47, 0x65], KEY_F10: [0x09, 0x4f, 0x6d], KEY_NUMLOCK: [0x77, 0x76, 0x47],
  KEY_SCROLLLOCK: [0x7e, 0x5f, null], KEY_KP7: [0x6c, 0x6c, 0x59], KEY_KP8: [0x75, 0x75, 0x5b],
  KEY_KP9: [0x7d, 0x7d, 0x5c], KEY_KPMINUS: [0x7b, 0x84, 0x4e], KEY_KP4: [0x6b, 0x6b, 0x56],
  KEY_KP5: [0x73, 0x73, 0x57], KEY_KP6: [0x74, 0x74, 0x58], KEY_KPPLUS: [0x79, 0x7c, 0x45],
  KEY_KP1: [0x69, 0x69, 0x53], KEY_KP2: [0x72, 0x72, 0x54], KEY_KP3: [0x7a, 0x7a, 0x55],
  KEY_KP0: [0x70, 0x70, 0x52], KEY_KPDOT: [0x71, 0x71, 0x41], KEY_102ND: [0x61, 0x13, 0x0a],
  KEY_F11: [0x78, 0x56, 0x67], KEY_F12: [0x07, 0x5e, 0x6f], KEY_KPENTER: [0xe05a, 0x79, 0x4c],
  KEY_RIGHTCTRL: [0xe014, 0x58, 0x3e], KEY_KPSLASH: [0xe04a, 0x77, 0x4b], KEY_RIGHTALT: [0xe011, 0x39, 0x3d],
  KEY_HOME: [0xe06c, 0x6e, 0x73], KEY_UP: [0xe075, 0x63, 0x7e], KEY_PAGEUP: [0xe07d, 0x6f, 0x74],
  KEY_LEFT: [0xe06b, 0x61, 0x7b], KEY_RIGHT: [0xe074, 0x6a, 0x7c], KEY_END: [0xe069, 0x65, 0x77],
  KEY_DOWN: [0xe072, 0x60, 0x7d], KEY_PAGEDOWN: [0xe07a, 0x6d, 0x79], KEY_INSERT: [0xe070, 0x67, 0x72],
  KEY_DELETE: [0xe071, 0x64, 0x75], KEY_MUTE: [0xe023, null, 0x4a], KEY_VOLUMEDOWN: [0xe021, null, 0x49],
  KEY_VOLUMEUP: [0xe032, null, 0x48], KEY_KPEQUAL: [0x0f, null, 0x51], KEY_PAUSE: [0xe077, 0x62, null],
  KEY_LEFTMETA: [0xe01f, 0x8b, 0x37], KEY_RIGHTMETA: [0xe027, 0x8c, 0x36], KEY_COMPOSE: [0xe02f, 0x8d, 0x6e],
};

/** Linux names libvirt also accepts for the same code. */
const LINUX_ALIASES: Readonly<Record<string, number>> = { KEY_SHIFT: 42 };

/** The code of `row` in code set `set`, or undefined when the set has none for it. */
function codeIn(row: Row, set: number): number | undefined {
  const [, linux, qnum, usb, , vk] = row;
  const extended = (qnum & 0x80) !== 0;
  switch (set) {
    case 0: // linux
      return linux;
    case 1: // xt: the original 83-key keyboard
      return !extended && qnum <= 0x53 ? qnum : undefined;
    case 2: // atset1: extended keys as e0xx
      return extended ? 0xe000 | (qnum & 0x7f) : qnum;
    case 3: // atset2
      return MORE[row[0]]?.[0] ?? undefined;
    case 4: // atset3
      return MORE[row[0]]?.[1] ?? undefined;
    case 5: // os_x
      return MORE[row[0]]?.[2] ?? undefined;
    case 6: // xt_kbd: extended keys as 0x100 | xx
      return extended ? 0x100 | (qnum & 0x7f) : qnum;
    case 7: // usb
      return usb ?? undefined;
    case 8: // win32
      return vk ?? undefined;
    case 9: // qnum
      return qnum;
    default:
      return undefined;
  }
}

/**
 * virKeycodeValueFromString: the code of key `name` in code set `set` (Linux `KEY_*` names for
 * linux, `VK_*` for win32; the name tables libvirt has), undefined when unknown.
 */
export function keycodeFromName(set: number, name: string): number | undefined {
  if (set === KEYCODE_SETS.linux) {
    const alias = LINUX_ALIASES[name];
    if (alias !== undefined) return alias;
    const row = ROWS.find((r) => r[0] === name);
    return row ? row[1] : undefined;
  }
  if (set === KEYCODE_SETS.win32) {
    const row = ROWS.find((r) => r[4] === name);
    return row?.[5] ?? undefined;
  }
  return undefined;
}

/** virKeycodeValueTranslate: `code` of set `from` in set `to`, undefined when it has none. */
export function translateKeycode(from: number, to: number, code: number): number | undefined {
  const row = ROWS.find((r) => codeIn(r, from) === code);
  return row ? codeIn(row, to) : undefined;
}
