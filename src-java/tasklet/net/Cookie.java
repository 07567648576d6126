package tasklet.net;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;

/**
 * Where a node's cookie comes from when none is given, as in Erlang's
 * {@code ~/.erlang.cookie}: the file {@code ~/.tasklet.cookie} (or another path), made
 * on first use with 32 random bytes (base64url, 43 characters) and readable by its owner
 * only; a cookie file that others may read or write is refused, as Erlang refuses one.
 * And {@link #weakness}: why a given cookie is too easy to guess.
 *
 * <p>Static and stateless: any thread (two JVMs making the file at once agree on the
 * one written first).
 */
public final class Cookie {
  /** Characters below which a cookie is called weak. */
  public static final int MIN_CHARS = 16;

  private static final Set<PosixFilePermission> OWNER_ONLY =
      EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
  private static final SecureRandom RANDOM = new SecureRandom();

  private Cookie() {}

  /** {@code ~/.tasklet.cookie}, under the {@code user.home} system property. Any thread. */
  public static Path defaultPath() {
    return Paths.get(System.getProperty("user.home"), ".tasklet.cookie");
  }

  /**
   * The cookie in the file at {@code path} (its first line, trimmed), making the file
   * with a fresh random cookie, owner-only, if it does not exist. Any thread.
   *
   * @throws IOException if the file cannot be read or made, is empty, or (on a POSIX
   *     file system) may be read or written by others than its owner
   */
  public static String load(Path path) throws IOException {
    try {
      Path tmp = Files.createTempFile(path.toAbsolutePath().getParent(), ".tasklet.cookie", ".tmp",
          posix(path) ? new java.nio.file.attribute.FileAttribute<?>[] {
              PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
              : new java.nio.file.attribute.FileAttribute<?>[0]);
      try {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String fresh = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        Files.writeString(tmp, fresh + "\n", StandardCharsets.UTF_8);
        Files.createLink(path, tmp); // atomic, and fails if another made the file first
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (FileAlreadyExistsException e) {
      // made earlier (or just now by another JVM): read it
    } catch (UnsupportedOperationException e) { // no hard links: plain create
      if (!Files.exists(path)) {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        Files.writeString(path, Base64.getUrlEncoder().withoutPadding().encodeToString(raw)
            + "\n", StandardCharsets.UTF_8);
      }
    }
    if (posix(path)) {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path);
      for (PosixFilePermission p : perms) {
        if (!p.name().startsWith("OWNER_")) {
          throw new IOException("the cookie file " + path + " may be read or written by others"
              + " (" + PosixFilePermissions.toString(perms) + "); make it owner-only: chmod 600 "
              + path);
        }
      }
    }
    String text = Files.readString(path, StandardCharsets.UTF_8);
    int nl = text.indexOf('\n');
    String cookie = (nl >= 0 ? text.substring(0, nl) : text).trim();
    if (cookie.isEmpty()) {
      throw new IOException("the cookie file " + path + " is empty; delete it to get a fresh"
          + " random cookie, or write one in it");
    }
    return cookie;
  }

  /**
   * Why {@code cookie} is easy to guess (shorter than {@link #MIN_CHARS} characters, or
   * made of fewer than 8 distinct characters), or null if it is not. A cookie's holder
   * may run code on every node that shares it; one HMAC seen by a node you connect to
   * lets it test guesses offline. Any thread.
   */
  public static String weakness(String cookie) {
    if (cookie.length() < MIN_CHARS) {
      return "it has " + cookie.length() + " characters, fewer than " + MIN_CHARS;
    }
    if (cookie.chars().distinct().count() < 8) {
      return "it uses fewer than 8 distinct characters";
    }
    return null;
  }

  private static boolean posix(Path path) {
    Path dir = path.toAbsolutePath().getParent();
    return dir != null && Files.getFileAttributeView(dir,
        java.nio.file.attribute.PosixFileAttributeView.class) != null;
  }
}
