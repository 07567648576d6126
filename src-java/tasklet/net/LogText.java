package tasklet.net;

/**
 * Peer-supplied text made fit for a log line: control characters and anything outside
 * printable ASCII are escaped ({@code \n}, {@code \u2028}), and the result is cut to a
 * bound with a note of how much was left out, so that a peer can neither forge log lines
 * nor make one log line large. Pure: any thread.
 */
public final class LogText {
  /** Characters of peer text kept in one log line. */
  public static final int MAX_CHARS = 200;

  private LogText() {}

  /** {@code s} escaped and cut to {@link #MAX_CHARS}; "null" for null. Any thread. */
  public static String of(String s) {
    return of(s, MAX_CHARS);
  }

  /** {@code s} escaped and cut to {@code max} characters of output. Any thread. */
  public static String of(String s, int max) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(Math.min(s.length(), max) + 16);
    int i = 0;
    for (; i < s.length() && b.length() < max; i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c >= 0x20 && c < 0x7F) {
            b.append(c);
          } else {
            b.append(String.format("\\u%04x", (int) c));
          }
        }
      }
    }
    if (i < s.length()) {
      b.append("...(").append(s.length() - i).append(" more chars)");
    }
    return b.toString();
  }
}
