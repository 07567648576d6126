(ns ^:no-doc tasklet.impl.codec
  "How values cross nodes: Nippy (fast-freeze, no header, no compression) with
  extensions for pids, refs and Throwables, and a Java-serialization allow-list.

  - Pid and Ref: [node-name serial incarnation]; a thawed pid resolves lazily
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
  (:import [java.io ByteArrayInputStream DataInput DataInputStream DataOutput ObjectInputFilter
                    ObjectInputFilter$FilterInfo ObjectInputFilter$Status ObjectInputStream]
           [tasklet.kernel Pid Ref]))

(set! *warn-on-reflection* true)

(nippy/extend-freeze Pid :tasklet/pid [^Pid p ^DataOutput out]
  (.writeUTF out (.-node p))
  (.writeLong out (.-serial p))
  (.writeLong out (.-incarnation p)))

(nippy/extend-thaw :tasklet/pid [^DataInput in]
  (Pid. (.readUTF in) (.readLong in) (.readLong in)))

(nippy/extend-freeze Ref :tasklet/ref [^Ref r ^DataOutput out]
  (.writeUTF out (.-node r))
  (.writeLong out (.-id r))
  (.writeLong out (.-incarnation r)))

(nippy/extend-thaw :tasklet/ref [^DataInput in]
  (Ref. (.readUTF in) (.readLong in) (.readLong in)))

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
  "Set by `decode` for the thaw it runs on this thread: {:allowlist set :limit
  payload-bytes :in the ByteArrayInputStream}, else nil. A ThreadLocal, not a
  dynamic var: `binding` cost about 0.5 µs a message (W6), and the guards
  look it up once per value."
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
                 (let [^ByteArrayInputStream bin (:in g)]
                   (.mark bin 0)
                   (when (== objects-lg (.read bin))
                     (check-count! (.readInt (DataInputStream. bin)) "an object-array count"))
                   (.reset bin)))
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

(defn encode
  "Freezes x to bytes. Throws ex-info {:tasklet/error :unserializable} when x
  holds something Nippy cannot freeze (or a class not in `allowlist` for Java
  serialization). Any thread."
  ^bytes [x allowlist]
  (try
    (binding [nippy/*freeze-serializable-allowlist* allowlist]
      (nippy/fast-freeze x))
    (catch Exception e
      (throw (ex-info (str "cannot send this value to another node: " (.getMessage e)
                           "; send plain Clojure data (maps, vectors, strings, numbers, keywords,"
                           " pids, refs, records...), or allow-list a Serializable class with"
                           " start!'s :serializable-allowlist")
                      (merge {:tasklet/error :unserializable}
                             (select-keys (ex-data e) [:type]))
                      e)))))

(defn decode
  "Thaws bytes made by `encode` (as Nippy's fast-thaw does), under the guards
  of the namespace doc; throws on a payload that does not thaw or is refused.
  Java-serialized classes not in `allowlist` thaw as Nippy's quarantine map,
  never instantiated. Any thread."
  [^bytes b allowlist]
  (let [bin (ByteArrayInputStream. b)
        in (DataInputStream. bin)]
    (.set guard-local {:allowlist allowlist :limit (alength b) :in bin})
    (try
      (.set cache-proxy (volatile! nil))
      (nippy/thaw-from-in! in)
      (finally
        (.remove cache-proxy)
        (.remove guard-local)))))
