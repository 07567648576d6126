(ns ^:no-doc tasklet.impl.crash
  "Crash reports: the JVM's crash handler that tasklet.core installs, the
  report map it builds and where reports go (tasklet.core/set-crash-handler!
  is the public face). Supervisors' reports (a failed restart, intensity
  exceeded) go the same way, so one setting routes or silences them all."
  (:require [clojure.string :as str])
  (:import [clojure.lang Compiler]
           [java.lang System$Logger System$Logger$Level]
           [tasklet.kernel CrashHandler Node Pid]))

(set! *warn-on-reflection* true)

(def ^:private max-data-chars
  "How much of an ex-data a one-line report shows."
  300)

(defn- clean
  "A demunged class name without the compiler's numeric suffixes:
  user$eval12$fn__34 -> user/eval12/fn."
  [^String class-name]
  (str/replace (Compiler/demunge class-name) #"--\d+" ""))

(defn fn-name
  "A tasklet's initial function by name: a var's symbol, a fn's demunged
  class name (my.ns/worker; an anonymous fn my.ns/outer/fn), else its string
  (a thread tasklet's description)."
  [f]
  (cond
    (var? f) (symbol f)
    (fn? f) (symbol (clean (.getName (class f))))
    (nil? f) nil
    :else (str f)))

(defn- library-frame? [^StackTraceElement el]
  (let [c (.getClassName el)]
    (some #(str/starts-with? c %) ["clojure.lang." "clojure.core$" "java." "jdk." "sun."])))

(defn- top-frame
  "\"my.ns/f (file.clj:12)\" for the frame e was thrown from: the first one
  outside Clojure's runtime and the JDK (as the REPL's own error line picks),
  else the first. Nil without a stack trace."
  [^Throwable e]
  (let [frames (.getStackTrace e)]
    (when-let [^StackTraceElement el (or (first (remove library-frame? frames)) (first frames))]
      (str (clean (.getClassName el)) " ("
           (let [f (.getFileName el)] (if (= "NO_SOURCE_FILE" f) "REPL" f))   ; as the REPL says it
           ":" (.getLineNumber el) ")"))))

(defn- data-str [^Throwable e]
  (when-let [d (ex-data e)]
    (let [s (binding [*print-length* 8 *print-level* 3] (pr-str d))]
      (if (> (count s) max-data-chars) (str (subs s 0 max-data-chars) "...") s))))

(defn describe
  "One line for a Throwable: class, message, ex-data (shortened) and where
  it was thrown."
  [^Throwable e]
  (str/join " " (remove nil? [(str (.getName (class e)) ":") (ex-message e) (data-str e)
                              (some->> (top-frame e) (str "at "))])))

(defn report
  "The crash report of tasklet pid, started with f (registered as nm, or
  nil), that threw e; context is what it said of itself before (a server's
  last message and state, already truncated), or nil."
  [^Pid pid f nm ^Throwable e context]
  (let [fname (fn-name f)]
    (cond-> {:kind :crash
             :pid pid
             :node (keyword (.-node pid))
             :initial-fn fname
             :registered-name nm
             :reason e
             :message (str "tasklet " pid (when nm (str " registered as " nm ","))
                           " running " fname ", crashed: " (describe e)
                           (when context (str "; " context)))}
      context (assoc :context context))))

(def ^:private settings #{:log :log-stack-traces :silent})

(defn- initial-setting
  "The system property tasklet.crash-reports (log, log-stack-traces or
  silent; default log): a JVM's setting from its command line, e.g. a child
  node's."
  []
  (let [v (keyword (System/getProperty "tasklet.crash-reports" "log"))]
    (if (settings v)
      v
      (do (.log ^System$Logger (System/getLogger "tasklet") System$Logger$Level/WARNING
                (str "tasklet.crash-reports is " (name v) "; use log, log-stack-traces or silent (using log)"))
          :log))))

(def ^:private handler
  "Where reports go: :log, :log-stack-traces, :silent or a fn of a report."
  (atom (initial-setting)))

(defn- log! [{:keys [kind level message reason]} traces?]
  (let [^System$Logger l (System/getLogger (if (= kind :supervisor) "tasklet.supervisor" "tasklet"))
        lvl (if (= level :warning) System$Logger$Level/WARNING System$Logger$Level/ERROR)]
    (if (and traces? (instance? Throwable reason))
      (.log l lvl ^String message ^Throwable reason)
      (.log l lvl ^String message))))

(defn report!
  "Hand report map r to the installed handler."
  [r]
  (let [h @handler]
    (case h
      :log (log! r false)
      :log-stack-traces (log! r true)
      :silent nil
      (h r))))

(defn set-handler!
  "Install h (see tasklet.core/set-crash-handler!); returns the previous."
  [h]
  (when-not (if (keyword? h) (contains? settings h) (or (nil? h) (ifn? h)))
    (throw (ex-info (str "set-crash-handler! takes a function of a report map, :log, :log-stack-traces,"
                         " :silent or nil, got " (pr-str h))
                    {:tasklet/error :badarg :handler h})))
  (let [[old] (reset-vals! handler (if (nil? h) :silent h))]
    old))

(defn handler-value
  "The installed handler."
  []
  @handler)

(def kernel-handler
  "The JVM's kernel crash handler: builds the report and hands it on."
  (reify CrashHandler
    (crashed [this pid f e] (.crashed this pid f nil e nil))
    (crashed [_ pid f nm e context] (report! (report pid f nm e context)))))

(Node/setDefaultCrashHandler kernel-handler)
