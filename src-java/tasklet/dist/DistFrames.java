package tasklet.dist;

/**
 * The node protocol's application frames (types 0x10-0x7F of tasklet.net),
 * each payload one vector (see {@link Codec}):
 *
 * <pre>
 *   0x10 SEND        [to msg]               to: a pid, or an alias (a ref, EEP 53)
 *   0x11 SEND_NAMED  [name msg]
 *   0x12 LINK        [from to]              from (sender's side) links to to
 *   0x13 UNLINK      [from to]
 *   0x14 EXIT        [from to reason linked?]
 *   0x15 MONITOR     [watcher ref dest]     dest: a pid or [name node]
 *   0x16 DEMONITOR   [watcher ref dest]
 *   0x17 REQUEST     [id reply-to op arg]   op: :spawn :alive :info :whereis
 *   0x18 REPLY       [id reply-to status value]
 *   0x19 PEERS       [name address ...]     sent on connect: the address book
 *   0x1A DOWN        [watcher down-msg]     a monitor fired: [:DOWN ref :process dest reason]
 * </pre>
 *
 * A monitor's [:DOWN ...] travels as DOWN, not SEND, so the receiving node
 * can tell it from a message that merely looks like one.
 */
public final class DistFrames {
  private DistFrames() {}

  public static final int SEND = 0x10;
  public static final int SEND_NAMED = 0x11;
  public static final int LINK = 0x12;
  public static final int UNLINK = 0x13;
  public static final int EXIT = 0x14;
  public static final int MONITOR = 0x15;
  public static final int DEMONITOR = 0x16;
  public static final int REQUEST = 0x17;
  public static final int REPLY = 0x18;
  public static final int PEERS = 0x19;
  public static final int DOWN = 0x1A;

  /** "0x1a" for log lines. */
  static String hex(int type) { return "0x" + Integer.toHexString(type); }
}
