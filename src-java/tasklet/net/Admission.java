package tasklet.net;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;

/**
 * The gate on inbound connections that have not authenticated yet: at most
 * {@code maxTotal} of them at once, and at most {@code maxPerAddress} from one source
 * address. A connection over either bound is closed as soon as it is accepted, before
 * anything is read from it; an admitted one gives its place back when its peer has proved
 * the cookie or when it closes, whichever comes first. With the handshake's frame bound
 * and time limit, this bounds what unauthenticated peers can make a node hold.
 *
 * <p>Any thread (synchronized).
 */
final class Admission {
  private final int maxTotal;
  private final int maxPerAddress;
  private final Map<InetAddress, Integer> perAddress = new HashMap<>();
  private int total;

  Admission(int maxTotal, int maxPerAddress) {
    this.maxTotal = maxTotal;
    this.maxPerAddress = maxPerAddress;
  }

  /** Takes a place for a connection from {@code from}; null if admitted, else why not. */
  synchronized String admit(InetAddress from) {
    if (total >= maxTotal) {
      return maxTotal + " connections are already in the handshake";
    }
    int n = perAddress.getOrDefault(from, 0);
    if (n >= maxPerAddress) {
      return maxPerAddress + " connections from " + from.getHostAddress()
          + " are already in the handshake";
    }
    total++;
    perAddress.put(from, n + 1);
    return null;
  }

  /** Gives back a place taken by {@link #admit}. Call once per admitted connection. */
  synchronized void release(InetAddress from) {
    total--;
    perAddress.computeIfPresent(from, (k, n) -> n <= 1 ? null : n - 1);
  }

  /** Connections holding a place now. */
  synchronized int pending() {
    return total;
  }
}
