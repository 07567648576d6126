(ns ^:no-doc tasklet.impl.codec
  "How values cross nodes: Nippy (fast-freeze, no header, no compression) with
  extensions for pids, refs and Throwables, and a Java-serialization allow-list.

  - Pid and Ref: [node-name serial incarnation] (UTF, i64, i32); a thawed pid resolves lazily
    through its node's process table (tasklet.kernel.NodeTable/resolve).
  - Throwable: written as class name, message, ex-data, cause (recursively) and
    up to 64 stack frames; it is thawed as an ex-info whose data is the original
    ex-data plus :tasklet/class (the original class name, kept from the first
    hop) and whose stack trace is the original one. So any Throwable crosses,
    even of a class the receiver does not have.
  - Java serialization: refused on both sides unless the class name is in the
    allow-list (start!'s :serializable-allowlist: class names or Nippy
    patterns such as java.time.*; default #{}). A refused class is unfreezable on the sender (the send throws
    :unserializable) and, if a peer sends one anyway, thaws as Nippy's
    quarantine map {:nippy/unthawable {...}}: never instantiated.

  What `decode` guards against (a peer's payload is hostile input):
  - an allowed class name in front of another graph: the ObjectInputStream
    runs under a JDK ObjectInputFilter that admits exactly the allow-listed
    classes (and arrays, whose elements it checks in turn), whatever name the
    payload claims, with bounds on depth, references and array lengths;
  - a record or type that names any class: the class is looked up without
    initialising it, and only a genuine Clojure record (IRecord) or type
    (IType) is built; anything else (a namespace's __init class, say) is
    refused before any of its code runs;
  - lengths and counts larger than the payload: no byte array or object
    array larger than the payload is allocated (a 6-byte payload used to make
    the node allocate 2 GiB);
  - tagged literals: only Clojure's default data readers.
  A refused payload throws, so the node closes that connection with a logged
  reason. The guards hook Nippy's thaw functions (alter-var-root) and act only
  inside `decode`: other users of Nippy in the JVM see Nippy unchanged."
  {:skip-wiki true}
  (:require [taoensso.nippy :as nippy])
  (:import [clojure.lang IKVReduce IMeta Keyword LazilyPersistentVector PersistentArrayMap PersistentHashMap
                         PersistentHashSet PersistentVector Symbol]
           [java.io DataInput DataOutput ObjectInputFilter ObjectInputFilter$FilterInfo
                    ObjectInputFilter$Status ObjectInputStream]
           [tasklet.dist PayloadInput PayloadOutput]
           [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(nippy/extend-freeze Pid :tasklet/pid [^Pid p ^DataOutput out]
  (.writeUTF out (.-node p))
  (.writeLong out (.-serial p))
  (.writeInt out (.-incarnation p)))

(nippy/extend-thaw :tasklet/pid [^DataInput in]
  (Pid. (.readUTF in) (.readLong in) (.readInt in)))

(nippy/extend-freeze Ref :tasklet/ref [^Ref r ^DataOutput out]
  (.writeUTF out (.-node r))
  (.writeLong out (.-id r))
  (.writeInt out (.-incarnation r)))

(nippy/extend-thaw :tasklet/ref [^DataInput in]
  (Ref. (.readUTF in) (.readLong in) (.readInt in)))

(def ^:private max-frames 64)

(defn- safe-data
  "ex-data that can be frozen, else a printed stand-in (a Throwable must always
  cross: it is often an exit reason)."
  [data]
  (when data
    (try (nippy/fast-freeze data) data
         (catch Exception _ {:tasklet/unserializable-data (pr-str data)}))))

(nippy/extend-freeze Throwable :tasklet/throwable [^Throwable t ^DataOutput out]
  (let [data (ex-data t)
        cls (or (:tasklet/class data) (.getName (class t)))
        trace (.getStackTrace t)
        n (min max-frames (alength trace))]
    (.writeUTF out cls)
    (nippy/freeze-to-out! out (.getMessage t))
    (nippy/freeze-to-out! out (safe-data data))
    (let [cause (.getCause t)]
      (nippy/freeze-to-out! out (when-not (identical? cause t) cause)))
    (.writeShort out (int n))
    (dotimes [i n]
      (let [^StackTraceElement e (aget trace i)]
        (.writeUTF out (.getClassName e))
        (.writeUTF out (.getMethodName e))
        (.writeUTF out (or (.getFileName e) ""))
        (.writeInt out (.getLineNumber e))))))

(nippy/extend-thaw :tasklet/throwable [^DataInput in]
  (let [cls (.readUTF in)
        msg (nippy/thaw-from-in! in)
        data (nippy/thaw-from-in! in)
        cause (nippy/thaw-from-in! in)
        n (.readShort in)
        trace (into-array StackTraceElement
                          (for [_ (range n)]
                            (let [c (.readUTF in) m (.readUTF in) f (.readUTF in) l (.readInt in)]
                              (StackTraceElement. c m (when-not (= "" f) f) l))))
        ^Throwable e (ex-info (when msg (str msg))
                   (assoc (if (map? data) data {}) :tasklet/class cls)
                   (when (instance? Throwable cause) cause))]
    (.setStackTrace e trace)
    e))

;; ---------------------------------------------------------------------------
;; The thaw guards (see the namespace doc)

(def ^:private ^ThreadLocal guard-local
  "Set by `decode` on this thread once it hands a value to Nippy (the rest of
  that decode): {:allowlist set :limit payload-bytes :in the PayloadInput},
  else nil. A ThreadLocal, not a dynamic var: `binding` cost about 0.5 µs a
  message (W6); the fast path below sets nothing."
  (ThreadLocal.))

(defn- guard [] (.get guard-local))

(defn- allowed-name?
  "Whether class name n matches allowlist: an exact name, or a Nippy pattern
  with * standing for any characters."
  [allowlist ^String n]
  (boolean (some (fn [^String a]
                   (if (.contains a "*")
                     (re-matches (re-pattern (apply str (map #(if (= % \*) ".*" (java.util.regex.Pattern/quote (str %))) a)))
                                 n)
                     (= a n)))
                 allowlist)))

(defn- refuse! [^String msg data]
  (throw (ex-info msg (assoc data :tasklet/error :refused-payload))))

(defn- serial-filter
  "The ObjectInputFilter for one Java-serialized object of a payload of limit
  bytes. A superclass of a class admitted before in the same stream is
  admitted too (its descriptor follows the subclass's; its fields are part of
  that object: AtomicInteger's java.lang.Number)."
  ^ObjectInputFilter [allowlist limit]
  (let [admitted (java.util.ArrayList.)
        admit (fn [^Class c]
                (when-not (.isArray c) (.add admitted c))
                ObjectInputFilter$Status/ALLOWED)]
  (reify ObjectInputFilter
    (checkInput [_ info]
      (let [^ObjectInputFilter$FilterInfo info info
            ^Class c (.serialClass info)]
        (cond
          (or (> (.depth info) 32) (> (.references info) 10000) (> (.arrayLength info) (long limit))
              (> (.streamBytes info) (long limit)))
          ObjectInputFilter$Status/REJECTED

          (nil? c) ObjectInputFilter$Status/UNDECIDED

          ;; an array instantiates no code of its component class, and each
          ;; element read into it is checked here in turn (HashMap checks an
          ;; array of Map$Entry this way)
          (or (.isArray c) (.isPrimitive c) (allowed-name? allowlist (.getName c))
              (some (fn [^Class k] (and (not (identical? k c)) (.isAssignableFrom c k))) admitted))
          (admit c)

          :else ObjectInputFilter$Status/REJECTED))))))

(defn- guarded-read-object
  "Nippy's read-object, under `serial-filter`: a class outside the allow-list
  anywhere in the graph refuses the payload."
  [{:keys [allowlist limit]} ^DataInput in ^String class-name]
  (let [ois (doto (ObjectInputStream. ^java.io.InputStream in)
              (.setObjectInputFilter (serial-filter allowlist limit)))
        content (try (.readObject ois)
                     (catch java.io.InvalidClassException e
                       (refuse! (str "a Java-serialized " class-name " holds a class outside the"
                                     " :serializable-allowlist: " (.getMessage e))
                                {:class-name class-name})))]
    (if (instance? (Class/forName class-name false (clojure.lang.RT/baseLoader)) content)
      content
      (refuse! (str "a Java-serialized object claims class " class-name " but is a "
                    (.getName (class content)))
               {:class-name class-name}))))

(defn- genuine-class
  "The class called class-name if it is loadable and an instance of iface
  (clojure.lang.IRecord or IType), found without initialising it (no static
  initialiser runs); nil if it cannot be loaded; refuses if it is another class."
  ^Class [^String class-name ^Class iface what]
  (let [c (try (Class/forName class-name false (clojure.lang.RT/baseLoader))
               (catch ClassNotFoundException _ nil)
               (catch LinkageError _ nil))]
    (when (and c (not (.isAssignableFrom iface c)))
      (refuse! (str "a frozen " what " names " class-name ", which is no Clojure " what)
               {:class-name class-name}))
    c))

(defn- check-count!
  "Refuses a length or count n larger than the payload: nothing the payload
  can fill is that large."
  [n what]
  (when (> (long n) (long (:limit (guard))))
    (refuse! (str what " of " n " in a payload of " (:limit (guard)) " bytes")
             {:count n})))

(defn- install-guards!
  "Wraps Nippy's thaw functions with the guards, acting only while `decode`
  runs on the thread (guard-local set). Nippy's own allow-list and the EDN
  reader's data readers are bound only on the rare paths that read them (a
  Serializable class, a reader literal). Idempotent (marks the vars)."
  []
  (let [hook! (fn [sym wrap]
                (let [v (ns-resolve 'taoensso.nippy sym)]
                  (when-not (::guarded (meta v))
                    (alter-var-root v wrap)
                    (alter-meta! v assoc ::guarded true))))
        objects-lg (long @(ns-resolve 'taoensso.nippy 'id-objects-lg))]
    (hook! 'read-bytes
           (fn [orig]
             (fn
               ([in] (orig in))
               ([in len] (when (guard) (check-count! len "a byte length")) (orig in len)))))
    (hook! 'read-object
           (fn [orig]
             (fn [in class-name]
               (if-let [g (guard)] (guarded-read-object g in class-name) (orig in class-name)))))
    (hook! 'read-record
           (fn [orig]
             (fn [in class-name]
               (if (guard)
                 (let [content (nippy/thaw-from-in! in)]
                   (if-let [c (genuine-class class-name clojure.lang.IRecord "record")]
                     (.invoke (.getMethod c "create" (into-array Class [clojure.lang.IPersistentMap]))
                              nil (object-array [content]))
                     {:nippy/unthawable {:type :record :cause :exception :class-name class-name
                                         :content content}}))
                 (orig in class-name)))))
    (hook! 'read-type
           (fn [orig]
             (fn [in class-name]
               (when (guard) (genuine-class class-name clojure.lang.IType "type"))
               (orig in class-name))))
    (hook! 'thaw-from-in!
           (fn [orig]
             (fn [in]
               (when-let [g (guard)]
                 ;; an object array is allocated from its count before anything
                 ;; else is read: peek at the type id and the count
                 (let [^PayloadInput pin (:in g)]
                   (when (== objects-lg (.peekByte pin))
                     (check-count! (.peekInt pin 1) "an object-array count"))))
               (orig in))))
    (hook! 'thaw-serializable-allowed?
           (fn [orig]
             (fn [class-name]
               (if-let [g (guard)]
                 (binding [nippy/*serializable-whitelist* nil
                           nippy/*thaw-serializable-allowlist* (:allowlist g)]
                   (orig class-name))
                 (orig class-name)))))
    (hook! 'read-edn
           (fn [orig]
             (fn [edn]
               (if (guard)
                 ;; only Clojure's default readers: a tagged literal runs no code of the peer's choosing
                 (binding [*data-readers* {} *default-data-reader-fn* nil]
                   (orig edn))
                 (orig edn)))))))

(install-guards!)

(def ^:private ^ThreadLocal cache-proxy @(ns-resolve 'taoensso.nippy '-cache-proxy))

;; ---------------------------------------------------------------------------
;; The fast path
;;
;; A remote send of a small message spent about 0.55 µs in Nippy's freeze and
;; as much in the guarded thaw (JFR of W6: three quarters of the sending
;; thread, nine tenths of the receiving event loop): a `binding` and a cache
;; ThreadLocal per call, a synchronised ByteArrayOutputStream, protocol
;; dispatch per value, and the guards' ThreadLocal and mark/reset per value.
;; So the terms that make up nearly every message (nil, booleans, longs,
;; doubles, strings, keywords, symbols, vectors, maps and sets without
;; metadata, pids and refs) are written and read here, directly on a
;; PayloadOutput / PayloadInput, in exactly Nippy's format (the same type ids
;; and count sizes Nippy writes), so either side thaws what the other froze.
;; Any other value (records, types, Throwables, metadata, Serializable,
;; dates, ...) is frozen and thawed by Nippy itself, on the same stream, with
;; the allow-list bound and the guards active (those are per call again, but
;; only on that path). The fast thaw bounds every count and length by the
;; bytes left before it allocates.

(def ^:private ^:const max-fast-depth
  "Deeper values are handed to Nippy whole (which recurses as before)."
  64)

(defn- custom-prefix
  "The short after Nippy's prefixed-custom id (82) for values of class c, as
  Nippy's extend-freeze writes it."
  [x]
  (let [^bytes b (nippy/fast-freeze x)]
    (when-not (== 82 (aget b 0))
      (throw (IllegalStateException. "Nippy no longer writes a custom type as id 82 + a short")))
    (long (unchecked-short (bit-or (bit-shift-left (bit-and (aget b 1) 0xff) 8) (bit-and (aget b 2) 0xff))))))

(def ^:private ^:const id-custom 82)
(def ^:private pid-type (custom-prefix (Pid. "a" 1 1)))
(def ^:private ref-type (custom-prefix (Ref. "a" 1 1)))

(defmacro ^:private write-count!
  "Writes id sm, md or lg by the size of n, then n as a byte, short or int."
  [out n sm md lg]
  `(let [n# (long ~n)]
     (cond (<= n# 127) (do (.writeByte ~out ~sm) (.writeByte ~out n#))
           (<= n# 32767) (do (.writeByte ~out ~md) (.writeShort ~out n#))
           :else (do (.writeByte ~out ~lg) (.writeInt ~out n#)))))

(defn- write-text!
  "A string, keyword or symbol body: its UTF-8 length under ids sm md lg, then
  the bytes."
  [^PayloadOutput out ^String s sm md lg]
  (let [a (PayloadOutput/asciiLength s)]
    (if (>= a 0)
      (do (write-count! out a (long sm) (long md) (long lg)) (.writeAscii out s))
      (let [b (PayloadOutput/utf8 s)]
        (write-count! out (alength b) (long sm) (long md) (long lg))
        (.write out b)))))

(defn- write-vec-header!
  "A vector of n items' id (and count), as Nippy writes it: its own ids for
  0, 2 and 3 items."
  [^PayloadOutput out ^long n]
  (case n
    0 (.writeByte out 17)
    2 (.writeByte out 113)
    3 (.writeByte out 114)
    (write-count! out n 110 69 21)))

(declare write-term!)

(defn- freeze-by-nippy!
  "x frozen by Nippy onto out, Java serialization limited to allowlist."
  [^PayloadOutput out x allowlist]
  (binding [nippy/*freeze-serializable-allowlist* allowlist]
    (nippy/freeze-to-out! out x)))

(defn- write-items!
  [^PayloadOutput out ^Iterable xs allowlist depth]
  (let [it (.iterator xs)]
    (while (.hasNext it) (write-term! out (.next it) allowlist depth))))

(defn- write-term!
  "x onto out in Nippy's format: the fast path's terms here, the rest by Nippy."
  [^PayloadOutput out x allowlist ^long depth]
  (let [c (class x)]
    (cond
      (nil? x) (.writeByte out 3)
      (identical? c Long)
      ;; two-argument comparisons only: Clojure inlines those on primitives,
      ;; while (<= a n b) is a variadic call that boxes n and allocates its
      ;; arguments (a quarter of a W6 sender's samples, JFR)
      (let [n (long x)]
        (cond (zero? n) (.writeByte out 0)
              (and (<= -128 n) (<= n 127)) (do (.writeByte out 100) (.writeByte out n))
              (and (<= -32768 n) (<= n 32767)) (do (.writeByte out 101) (.writeShort out n))
              (and (<= -2147483648 n) (<= n 2147483647)) (do (.writeByte out 102) (.writeInt out n))
              :else (do (.writeByte out 43) (.writeLong out n))))
      (identical? c Keyword)
      (let [^String s (.toString (.-sym ^Keyword x))]
        ;; under 32 KiB of UTF-8 (the md id is the largest: Nippy refuses longer
        ;; keywords and symbols, with its message)
        (if (< (.length s) 10000)
          (write-text! out s 106 85 85)
          (freeze-by-nippy! out x allowlist)))
      (identical? c String)
      (if (identical? x "")   ; as Nippy: another empty string is a str-sm of 0
        (.writeByte out 34)
        (write-text! out x 105 16 13))
      (> depth max-fast-depth) (freeze-by-nippy! out x allowlist)
      (identical? c PersistentVector)
      (if (some? (.meta ^IMeta x))
        (freeze-by-nippy! out x allowlist)
        (do (write-vec-header! out (.count ^PersistentVector x))
            (write-items! out x allowlist (inc depth))))
      (identical? c Pid)
      (let [^Pid p x]
        (.writeByte out id-custom) (.writeShort out (long pid-type))
        (.writeUTF out (.-node p)) (.writeLong out (.-serial p)) (.writeInt out (.-incarnation p)))
      (identical? c Ref)
      (let [^Ref r x]
        (.writeByte out id-custom) (.writeShort out (long ref-type))
        (.writeUTF out (.-node r)) (.writeLong out (.-id r)) (.writeInt out (.-incarnation r)))
      (or (identical? c PersistentArrayMap) (identical? c PersistentHashMap))
      (if (some? (.meta ^IMeta x))
        (freeze-by-nippy! out x allowlist)
        (let [n (count x) d (inc depth)]
          (if (zero? n)
            (.writeByte out 19)
            (do (write-count! out n 112 33 30)
                (.kvreduce ^IKVReduce x
                           (fn [_ k v] (write-term! out k allowlist d) (write-term! out v allowlist d) nil)
                           nil)))))
      (identical? c PersistentHashSet)
      (if (some? (.meta ^IMeta x))
        (freeze-by-nippy! out x allowlist)
        (let [n (count x)]
          (if (zero? n)
            (.writeByte out 18)
            (do (write-count! out n 111 32 23) (write-items! out x allowlist (inc depth))))))
      (identical? c Boolean) (.writeByte out (if (.booleanValue ^Boolean x) 8 9))
      (identical? c Double)
      (let [v (.doubleValue ^Double x)]
        (if (zero? v)   ; as Nippy: -0.0 too
          (.writeByte out 55)
          (do (.writeByte out 61) (.writeDouble out v))))
      (identical? c Symbol)
      (if (or (some? (.meta ^IMeta x)) (>= (.length (.toString ^Symbol x)) 10000))
        (freeze-by-nippy! out x allowlist)
        (write-text! out (.toString ^Symbol x) 56 86 86))
      :else (freeze-by-nippy! out x allowlist))))

(def ^:private ^ThreadLocal out-local
  "A PayloadOutput kept per platform thread for the next encode."
  (ThreadLocal.))

(defn- freeze-fields
  "The payload of the vector of fields (an Object[]) or of one term x (fields
  nil)."
  ^bytes [^objects fields x allowlist]
  (let [virtual? (.isVirtual (Thread/currentThread))   ; a tasklet's own thread: keep nothing per thread
        ^PayloadOutput kept (when-not virtual? (.get out-local))
        ^PayloadOutput out (if (and kept (.claim kept)) kept (PayloadOutput. 64))]
    (try
      (if fields
        (let [n (alength fields)]
          (write-vec-header! out n)
          (dotimes [i n] (write-term! out (aget fields i) allowlist 1)))
        (write-term! out x allowlist 0))
      (.toByteArray out)
      (finally
        (if (identical? out kept)
          (.release kept)
          (when (and (not virtual?) (nil? kept) (.reusable out))
            (.reset out)
            (.set out-local out)))))))

(defn- unserializable [^Exception e]
  (ex-info (str "cannot send this value to another node: " (.getMessage e)
                "; send plain Clojure data (maps, vectors, strings, numbers, keywords,"
                " pids, refs, records...), or allow-list a Serializable class with"
                " start!'s :serializable-allowlist")
           (merge {:tasklet/error :unserializable}
                  (select-keys (ex-data e) [:type]))
           e))

(defn encode
  "Freezes x to bytes (Nippy's format, as fast-freeze writes it). Throws
  ex-info {:tasklet/error :unserializable} when x holds something Nippy
  cannot freeze (or a class not in `allowlist` for Java serialization). Any
  thread."
  ^bytes [x allowlist]
  (try
    (freeze-fields nil x allowlist)
    (catch Exception e (throw (unserializable e)))))

(defn encode-fields
  "As (encode (vec fields) allowlist), without making the vector: the node
  protocol's payloads are vectors of fields. Any thread."
  ^bytes [^objects fields allowlist]
  (try
    (freeze-fields fields nil allowlist)
    (catch Exception e (throw (unserializable e)))))

;; --- thaw

(defn- thaw-by-nippy
  "The value at in's position, thawed by Nippy under the guards (set up for
  the rest of this decode on first need; `decode` clears them)."
  [^PayloadInput in allowlist limit]
  (when (nil? (.get guard-local))
    (.set guard-local {:allowlist allowlist :limit limit :in in})
    (.set cache-proxy (volatile! nil))
    (.markGuarded in))
  (nippy/thaw-from-in! in))

(defn- fast-count
  "A count or length n read from a hostile payload: refused when negative or
  larger than the bytes left (each item takes at least one)."
  ^long [^PayloadInput in n]
  (let [n (long n)]
    (when (or (neg? n) (> n (.remaining in)))
      (refuse! (str "a count of " n " with " (.remaining in) " bytes left in the payload") {:count n}))
    n))

(declare read-term)

(defn- read-items
  "n terms into an array."
  ^objects [^PayloadInput in n allowlist limit depth]
  (let [n (fast-count in n)
        a (object-array n)]
    (dotimes [i n] (aset a i (read-term in allowlist limit depth)))
    a))

(defn- read-vec [^PayloadInput in n allowlist limit depth]
  (LazilyPersistentVector/createOwning (read-items in n allowlist limit depth)))

(defn- read-map [^PayloadInput in n allowlist limit depth]
  (let [n (fast-count in n)
        ^objects kvs (read-items in (* 2 n) allowlist limit depth)]
    ;; a repeated key: the later one, as Nippy's assoc does
    (if (<= n 8) (PersistentArrayMap/createAsIfByAssoc kvs) (PersistentHashMap/create kvs))))

(defn- read-term
  "The value at in's position: the fast path's terms here, the rest by Nippy."
  [^PayloadInput in allowlist limit ^long depth]
  (let [at (.position in)
        id (.readByte in)
        d (inc depth)]
    (if (> depth max-fast-depth)
      (do (.seek in at) (thaw-by-nippy in allowlist limit))
      (case (int id)
        3 nil
        8 true
        9 false
        0 0
        100 (long (.readByte in))
        101 (long (.readShort in))
        102 (long (.readInt in))
        43 (.readLong in)
        55 0.0
        61 (.readDouble in)
        34 ""
        105 (.readUtf8 in (fast-count in (.readByte in)))
        16 (.readUtf8 in (fast-count in (.readShort in)))
        13 (.readUtf8 in (fast-count in (.readInt in)))
        106 (Keyword/intern (.readUtf8 in (fast-count in (.readByte in))))
        85 (Keyword/intern (.readUtf8 in (fast-count in (.readShort in))))
        56 (Symbol/intern (.readUtf8 in (fast-count in (.readByte in))))
        86 (Symbol/intern (.readUtf8 in (fast-count in (.readShort in))))
        17 []
        113 (read-vec in 2 allowlist limit d)
        114 (read-vec in 3 allowlist limit d)
        110 (read-vec in (.readByte in) allowlist limit d)
        69 (read-vec in (.readShort in) allowlist limit d)
        21 (read-vec in (.readInt in) allowlist limit d)
        19 {}
        112 (read-map in (.readByte in) allowlist limit d)
        33 (read-map in (.readShort in) allowlist limit d)
        30 (read-map in (.readInt in) allowlist limit d)
        18 #{}
        111 (PersistentHashSet/create (read-items in (.readByte in) allowlist limit d))
        32 (PersistentHashSet/create (read-items in (.readShort in) allowlist limit d))
        23 (PersistentHashSet/create (read-items in (.readInt in) allowlist limit d))
        82 (let [t (.readShort in)]
             (cond (== t (long pid-type)) (Pid. (.readUTF in) (.readLong in) (.readInt in))
                   (== t (long ref-type)) (Ref. (.readUTF in) (.readLong in) (.readInt in))
                   :else (do (.seek in at) (thaw-by-nippy in allowlist limit))))
        (do (.seek in at) (thaw-by-nippy in allowlist limit))))))

(defn decode
  "Thaws bytes made by `encode` (or by Nippy's fast-freeze), under the guards
  of the namespace doc; throws on a payload that does not thaw or is refused.
  Java-serialized classes not in `allowlist` thaw as Nippy's quarantine map,
  never instantiated. Any thread."
  [^bytes b allowlist]
  (let [in (PayloadInput. b)]
    (try
      (read-term in allowlist (alength b) 0)
      (finally
        (when (.guarded in)
          (.remove cache-proxy)
          (.remove guard-local))))))
