package tasklet.kernel;

/**
 * What a {@code receive}'s matcher returns for the clause that matched, other
 * than a bare value (tasklet.impl.receive/matcher-form): the clause's index
 * and the values its pattern bound. Why not a vector {@code [i & values]}, as
 * before: one was made per message taken (a PersistentVector and its array,
 * about 64 bytes), then read back with nth; a clause that binds nothing now
 * returns a shared tag, and the one clause that binds a single value returns
 * that value itself, so the common receive allocates nothing for its result
 * (doc/adr/0008).
 *
 * <p>Invariant the expansion relies on: a matcher never returns an instance of
 * this class as a bare value ({@link #value} wraps one, and nil and false), so
 * {@code instanceof Matched} tells a wrapped result from a bare value.
 */
public final class Matched {
  private static final Matched[] TAGS = new Matched[64];
  static {
    for (int i = 0; i < TAGS.length; i++) TAGS[i] = new Matched(i, null);
  }

  /** What receive-fn returns on timeout for a receive with {@code after} (tasklet.core/timeout-marker). */
  public static final Matched TIMEOUT = new Matched(-1, null);

  /** The index of the clause that matched. */
  public final int clause;
  /** The values the clause's pattern bound, in pattern-locals order; null for a tag. */
  public final Object[] values;

  public Matched(int clause, Object[] values) {
    this.clause = clause;
    this.values = values;
  }

  /** The result for clause {@code i}, which binds nothing: shared, nothing allocated (for i below 64). */
  public static Matched tag(int i) {
    return i < TAGS.length ? TAGS[i] : new Matched(i, null);
  }

  /**
   * The result for clause {@code i}, the receive's one bare-value clause,
   * which bound {@code v}: v itself, unless v is nil or false (no match, to
   * the matcher's {@code or} and to the scan) or itself a Matched (it would be
   * taken for a wrapped result); those are wrapped.
   */
  public static Object value(int i, Object v) {
    return v == null || v == Boolean.FALSE || v instanceof Matched ? new Matched(i, new Object[] {v}) : v;
  }

  @Override public String toString() { return "#<Matched clause " + clause + ">"; }
}
