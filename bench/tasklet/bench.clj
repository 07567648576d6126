(ns tasklet.bench
  "`lein bench` (`make bench`): the side-by-side benchmark suite of issue 5.

  Every workload runs for every peer, one workload at a time across the
  peers (so the peers of one row ran minutes apart, not hours), each pair in
  a fresh JVM of its own (same classpath and options): warm-up runs for 3 s,
  then `runs` (3) measured runs in that JVM; each figure is the median of
  its runs. A fresh JVM per pair because a peer's leftovers skew the next
  one: core.async's go pool outlives its workload, and a heap full of the
  previous peer's garbage changes GC timing (measured: tasklet's W3 ring at
  5.2M hops/s in a fresh JVM, 4.2M after core.async's W2, 3.2M late in a
  shared-JVM suite). The Erlang/OTP column is its own OS process anyway.
  The table is printed and, for a full run, written to bench/RESULTS.md
  with the machine it ran on.

  Layout: one namespace per peer (tasklet.bench.tasklet-peer serves both
  tasklet strands through a Node argument; async-peer; vthread-peer), each
  written in that peer's own idiom, because a shared spawn/send/receive
  abstraction would add a different overhead to each peer; plus
  tasklet.bench.util for what they share.

  Options:
    --quick          every count at 1/10 (development)
    --scale X        every count times X (e.g. 0.01)
    --only W2,W4     only these workloads (W1 W2 W3 W4 W5 W6 W7 W8)
    --peers a,b      only these peers (tasklet-cont tasklet-vt async vthread erlang)
    --runs N         measured runs per figure (default 3)
    --no-warmup      skip the warm-up runs
    --out FILE       write the table there (default bench/RESULTS.md, and
                     only for a full run: a partial run prints only)
    --deadline S     a run not done within S seconds (default 300) is
                     recorded as an error (a lost wake-up must not hang the suite)
    --shared-jvm     run every pair in this JVM instead of one JVM per pair"
  (:require [clojure.edn :as edn]
            [clojure.java.shell :as sh]
            [clojure.string :as str]
            [tasklet.bench.async-peer :as async-peer]
            [tasklet.bench.erlang-peer :as erlang-peer]
            [tasklet.bench.remote :as remote]
            [tasklet.bench.tasklet-peer :as tp]
            [tasklet.bench.util :as u]
            [tasklet.bench.vthread-peer :as vt-peer]
            [tasklet.core :as t])
  (:import [java.lang.management ManagementFactory]
           [java.nio.file Files Paths]
           [java.time ZonedDateTime]
           [java.time.format DateTimeFormatter]))

(set! *warn-on-reflection* true)

(def workloads
  "The workloads in order, with what each measures."
  [[:W1 "spawn 1,000,000 waiting in receive"]
   [:W2 "ping-pong, 1,000,000 round trips"]
   [:W3 "ring of 10,000, token round 100 times"]
   [:W4 "fan-in, 4 senders x 1,000,000 [:msg i]"]
   [:W7 "selective receive past 10,000 non-matching"]
   [:W8 "gen-server call vs raw !/receive round trip"]
   ;; last: they fork a second JVM, which then shares the two cores
   [:W5 "remote ping-pong (2 JVMs), 100,000 round trips"]
   [:W6 "remote one-way, 1,000,000 messages"]])

(defn peers
  "The peers in column order: {:id :label :run {workload (fn [params] figures)}}.
  A workload missing from :run is reported as :na."
  []
  (let [tasklet-runs (fn [node-fn]
                       {:W1 #(tp/w1 (node-fn) %) :W2 #(tp/w2 (node-fn) %) :W3 #(tp/w3 (node-fn) %)
                        :W4 #(tp/w4 (node-fn) %) :W7 #(tp/w7 (node-fn) %) :W8 #(tp/w8 (node-fn) %)})
        no-dist {:W5 "n/a (no distribution)" :W6 "n/a (no distribution)"}]
    [{:id :tasklet-cont :label (str "tasklet " (tp/strand-of (tp/continuation-node)))
      :run (assoc (tasklet-runs tp/continuation-node) :W5 remote/w5 :W6 remote/w6)}
     {:id :tasklet-vt :label "tasklet virtual"
      :run (tasklet-runs tp/virtual-node)
      :na {:W5 "n/a (remote runs on the default strand only)" :W6 "n/a (remote runs on the default strand only)"}}
     {:id :async :label "core.async go"
      :run {:W1 async-peer/w1 :W2 async-peer/w2 :W3 async-peer/w3 :W4 async-peer/w4 :W7 async-peer/w7}
      :na (assoc no-dist :W8 "n/a (no gen-server)")}
     {:id :vthread :label "VT + CLQ"
      :run {:W1 vt-peer/w1 :W2 vt-peer/w2 :W3 vt-peer/w3 :W4 vt-peer/w4 :W7 vt-peer/w7}
      :na (assoc no-dist :W8 "n/a (no gen-server)")}
     {:id :erlang :label "Erlang/OTP" :in-process true   ; its figures come from one erl run, its own process
      :run {:W1 erlang-peer/w1 :W2 erlang-peer/w2 :W3 erlang-peer/w3 :W4 erlang-peer/w4
            :W5 erlang-peer/w5 :W6 erlang-peer/w6}
      :na {:W7 "n/a (not in bench/erlang)" :W8 "n/a (not in bench/erlang)"}}]))

(def metrics
  "The rows of the table: [workload key label format]. Formats: :ms :bytes
  :rate :ns :us."
  [[:W1 :create-ms "W1 create all, until parked (ms)" :ms]
   [:W1 :bytes-per "W1 heap per waiting process (B)" :bytes]
   [:W1 :end-ms "W1 one message each, until all ended (ms)" :ms]
   [:W2 :rt-per-s "W2 round trips/s" :rate]
   [:W2 :ns-per-hop "W2 ns/hop" :ns]
   [:W3 :create-ms "W3 ring creation (ms)" :ms]
   [:W3 :hops-per-s "W3 hops/s" :rate]
   [:W4 :msgs-per-s "W4 msgs/s" :rate]
   [:W5 :rt-per-s "W5 remote round trips/s" :rate]
   [:W5 :us-per-rt "W5 remote µs/round trip" :us]
   [:W6 :msgs-per-s "W6 remote msgs/s" :rate]
   [:W7 :marked-us "W7 µs/rt, reply scan from a mark (async: reply chan)" :us]
   [:W7 :naive-us "W7 µs/rt, naive scan past the backlog" :us]
   [:W8 :call-ns "W8 gen-server call (ns/call)" :ns]
   [:W8 :raw-ns "W8 raw !/receive round trip (ns/rt)" :ns]])

;; ---------------------------------------------------------------------------
;; Running

(defn- run-once [f params]
  (System/gc)
  (try (f params)
       (catch Throwable e
         {:error (str (.getSimpleName (class e)) ": " (.getMessage e))})))

(defn- summarize
  "Medians per figure of a seq of result maps; the first :na or :error wins."
  [results]
  (if-let [bad (some #(when (or (:na %) (:error %)) %) results)]
    bad
    (into {}
          (for [k (distinct (mapcat keys results))]
            [k (let [xs (keep #(get % k) results)]
                 (when (seq xs) (u/median xs)))]))))

(defn run-workload
  "Run workload w of peer at scale, in this JVM: warm-up runs for at least
  warmup-ms (3 s; none when warmup is false), then runs measured runs;
  returns the medians map, or {:na why} / {:error why}."
  [peer w {:keys [scale runs warmup warmup-ms log] :or {runs 3 warmup true warmup-ms 3000 log (fn [_])}}]
  (let [params (when (u/full-params w) (u/scaled w scale))
        f (get-in peer [:run w])]
    (cond
      (get-in peer [:na w]) {:na (get-in peer [:na w])}
      (nil? f) {:na "n/a"}
      :else
      (do (when warmup
            ;; a fresh JVM needs more than one short run before C2 has compiled
            ;; the hot path (W3's first runs in a fresh JVM: 0.9M, 3.0M, 3.9M,
            ;; then 6M hops/s): warm up for warmup-ms, with at least one run
            (let [until (+ (System/nanoTime) (* 1000000 (long warmup-ms)))]
              (loop [i 1]
                (log (str "  " (name w) " " (:label peer) " warm-up " i))
                (run-once f params)
                (when (neg? (- (System/nanoTime) until)) (recur (inc i))))))
          (summarize
            (vec (for [i (range runs)]
                   (let [r (run-once f params)]
                     (log (str "  " (name w) " " (:label peer) " run " (inc i) ": " (pr-str r)))
                     r))))))))

(defn- child-command
  "The command line of a JVM like this one (same java, options and
  classpath) running one workload of one peer (see `-main`'s --child)."
  [w peer-id {:keys [scale runs warmup deadline-ms]}]
  (vec (concat [(str (System/getProperty "java.home") "/bin/java")]
               (.getInputArguments (ManagementFactory/getRuntimeMXBean))
               ["-cp" (System/getProperty "java.class.path") "clojure.main" "-m" "tasklet.bench"
                "--child" (str (name w) "," (name peer-id))
                "--scale" (str scale) "--runs" (str runs)
                "--deadline" (str (quot (long (or deadline-ms u/*deadline-ms*)) 1000))]
               (when-not warmup ["--no-warmup"]))))

(def ^:private result-prefix "tasklet.bench/result ")

(defn- run-in-child
  "Run workload w of peer in a fresh JVM, passing its progress lines to log;
  its medians map, or {:error why} when the child printed no result."
  [peer w {:keys [log runs deadline-ms] :or {log (fn [_]) runs 3} :as opts}]
  (let [pb (doto (ProcessBuilder. ^java.util.List (child-command w (:id peer) opts))
             (.redirectErrorStream true))
        proc (.start pb)
        ;; each run has its own deadline inside the child; this one catches a
        ;; child stuck outside a run (startup, shutdown)
        limit-ms (+ 120000 (* (inc (long runs)) (long (or deadline-ms u/*deadline-ms*))))
        killer (future (when-not (.waitFor proc limit-ms java.util.concurrent.TimeUnit/MILLISECONDS)
                         (log (str "  " (name w) " " (:label peer) ": child JVM over " limit-ms " ms, killed"))
                         (.destroyForcibly proc)))
        result (with-open [r (java.io.BufferedReader. (java.io.InputStreamReader. (.getInputStream proc)))]
                 (loop [result nil]
                   (if-let [line (.readLine r)]
                     (if (str/starts-with? line result-prefix)
                       (recur (edn/read-string (subs line (count result-prefix))))
                       (do (log line) (recur result)))
                     result)))
        exit (.waitFor proc)]
    (future-cancel killer)
    (or result {:error (str "the child JVM for " (name w) " of " (:label peer) " exited " exit " without a result")})))

(defn run-suite
  "Run the selected workloads for the selected peers. opts: :scale (1.0),
  :only (set of workload keys), :peers (set of peer ids), :runs (3), :warmup
  (true), :shared-jvm (false: a fresh JVM per workload and peer), :log (a fn
  of a progress line). Returns {:results {w {peer-id
  figures}} :peers [...] :workloads [...] :scale s}."
  [{:keys [scale only peers] :or {scale 1.0} :as opts}]
  (let [ps (filterv #(or (nil? peers) (peers (:id %))) (tasklet.bench/peers))
        ws (filterv #(or (nil? only) (only %)) (map first workloads))
        run (fn [p w]
              (if (or (:shared-jvm opts) (:in-process p) (get-in p [:na w]) (nil? (get-in p [:run w])))
                (run-workload p w (assoc opts :scale scale))
                (run-in-child p w (assoc opts :scale scale))))]
    {:scale scale
     :shared-jvm (boolean (:shared-jvm opts))
     :peers ps
     :workloads ws
     :results (into {}
                    (for [w ws]
                      [w (into {} (for [p ps] [(:id p) (run p w)]))]))}))

;; ---------------------------------------------------------------------------
;; Reporting

(defn- fmt [kind x]
  (cond
    (nil? x) "–"
    (string? x) x
    :else (let [x (double x)]
            (case kind
              :us (format "%,.2f" x)
              (format "%,.0f" x)))))

(defn table
  "The results of run-suite as a Markdown table: one row per figure, one
  column per peer."
  [{:keys [results peers workloads]}]
  (let [ws (set workloads)
        header (str "| figure | " (str/join " | " (map :label peers)) " |")
        sep (str "|---|" (str/join "|" (repeat (count peers) "---:")) "|")
        rows (for [[w k label kind] metrics
                   :when (ws w)]
               (str "| " label " | "
                    (str/join " | " (for [p peers]
                                      (let [f (get-in results [w (:id p)])]
                                        (if (or (:na f) (:error f))
                                          (or (:na f) (str "error: " (:error f)))
                                          (fmt kind (get f k))))))
                    " |"))]
    (str/join "\n" (concat [header sep] rows))))

(defn- read-proc
  "A /proc file's text (slurp fails on them here: \"Invalid argument\")."
  ^String [path]
  (String. (Files/readAllBytes (Paths/get ^String path (make-array String 0))) "UTF-8"))

(defn- cpu-model []
  (try
    (or (some->> (read-proc "/proc/cpuinfo")
                 str/split-lines
                 (some #(when (str/starts-with? % "model name") (str/trim (subs % (inc (str/index-of % ":")))))))
        "unknown")
    (catch Exception _ "unknown")))

(defn- loadavg []
  (try (str/join " " (take 3 (str/split (str/trim (read-proc "/proc/loadavg")) #"\s+")))
       (catch Exception _ "unknown")))

(defn- source-state
  "The commit measured, and whether the kernel or the Clojure layer had
  uncommitted changes (the suite measures the working tree)."
  []
  (try
    (let [git (fn [& args] (str/trim (:out (apply sh/sh "git" args))))
          head (git "rev-parse" "--short" "HEAD")
          dirty (remove str/blank? (str/split-lines (git "status" "--porcelain" "--" "src-java" "src-clj")))]
      (str "commit " head (if (seq dirty)
                            (str " plus uncommitted changes to " (count dirty) " files under src-java/ and src-clj/")
                            ", clean")))
    (catch Exception _ "unknown (no git)")))

(defn machine
  "A map describing this machine and JVM for the results file."
  []
  {:source (source-state)
   :cpu (cpu-model)
   :cores (.availableProcessors (Runtime/getRuntime))
   :jdk (str (System/getProperty "java.vm.vendor") " " (System/getProperty "java.runtime.version"))
   :strand (name (:strand (t/runtime-info)))
   :jvm-args (str/join " " (.getInputArguments (ManagementFactory/getRuntimeMXBean)))
   :max-heap-gb (format "%.1f" (/ (.maxMemory (Runtime/getRuntime)) 1073741824.0))
   :core-async (async-peer/default-mode)
   :date (.format (ZonedDateTime/now) DateTimeFormatter/RFC_1123_DATE_TIME)})

(def ^:private reference
  "Figures quoted in issue 5, not measured by this suite."
  "| figure | Erlang/OTP 25 | Pekko 1.7 (2 dispatcher threads) | plain VT + CLQ (issue's run) |
|---|---:|---:|---:|
| W1 create ms | 2,786 | – | 1,543 |
| W1 B/process | 2,646 | 528 | 803 |
| W2 round trips/s | 2.13M | 4.6M | – |
| W3 hops/s | 2.82M | 7.1M | – |
| W4 msgs/s | 2.97M | 6.6–7.3M | 24M |
| W5 round trips/s | 17.9k | – | – |
| W6 msgs/s | 435k | – | – |

A raw Continuation yield/resume with no synchronisation: ~83 ns a hop (also
quoted from the issue).")

(defn- busy?
  "Whether other jobs shared the machine: a 1-minute load average above half
  the cores before the run, or above the suite's own (cores + 1) after it."
  [before after cores]
  (let [l1 (fn [s] (try (Double/parseDouble (first (str/split (str s) #"\s+"))) (catch Exception _ 0.0)))]
    (or (> (double (l1 before)) (* 0.5 (double cores)))
        (> (double (l1 after)) (+ 1.0 (double cores))))))

(defn report
  "The results file: machine, table, notes and the quoted reference figures."
  [suite m load-before load-after]
  (str "# Benchmark results\n\n"
       "Written by `make bench` (`lein bench`, ns tasklet.bench); do not edit by hand.\n\n"
       "- CPU: " (:cpu m) ", " (:cores m) " cores\n"
       "- JDK: " (:jdk m) "; max heap " (:max-heap-gb m) " GB\n"
       "- JVM options: `" (:jvm-args m) "`\n"
       "- tasklet default strand: " (:strand m) " (the second tasklet column is a node on the virtual-thread strand)\n"
       "- core.async 1.9.865 go blocks: " (:core-async m) "\n"
       "- date: " (:date m) "\n"
       "- source: " (:source m) "\n"
       "- load average (1, 5, 15 min) before: " load-before "; after: " load-after
       (when (busy? load-before load-after (:cores m))
         (str " — **other jobs were running on these " (:cores m) " cores during this run**: "
              "figures are lower and noisier than on an idle machine"))
       "\n"
       "- scale " (:scale suite) "; each figure the median of 3 runs after 3 s of warm-up runs, "
       (if (:shared-jvm suite) "all in this one JVM" "each workload of each peer in a fresh JVM of its own") "\n\n"
       (table suite) "\n\n"
       "Peers: tasklet on its default node (continuation strand) and on a second node on the "
       "virtual-thread strand; core.async `go` blocks with a channel of 1,024 per process as its mailbox "
       "(no unbounded channel exists: in W4 a full channel parks the senders); plain Java virtual threads, "
       "each with a ConcurrentLinkedQueue mailbox and LockSupport park/unpark.\n\n"
       "W1 counts a process as created when it has run up to its receive (a counter it bumps just before "
       "waiting), not when spawn returns; heap is MemoryMXBean's used heap after three System.gc(), minus the "
       "same before. W7's marked column for tasklet marks the mailbox's end before the request goes out and "
       "receives from the mark (as tasklet.server does); core.async has no selective receive and uses a "
       "promise-chan per call instead; the VT peer only has the naive scan. W8's raw round trip is the "
       "same request/reply shape without the call's monitor. W3's ring is built by one tasklet (bench/erlang builds it from one process). "
       "W5/W6 run between the workload's JVM and one child JVM "
       "forked by tasklet.node/start-local-nodes! (same classpath and options, -Xms1g), Nippy over TCP on "
       "127.0.0.1, continuation strand only; they run last, after the in-JVM workloads. The Erlang/OTP "
       "column is bench/erlang/erl_peer.erl (W1-W6 with the same counts; W1's bytes are erlang:memory(processes) "
       "after minus before; W5/W6 against a second node started with OTP's peer module), run once during this "
       "suite by bench/erlang/run.sh.\n\n"
       "**These 2-core figures vary 2–5× between runs: compare peers only within one run.**\n\n"
       "## Reference figures quoted from issue 5 (not measured by us)\n\n"
       reference "\n"))

;; ---------------------------------------------------------------------------

(defn parse-args
  "Command-line options as a map for run-suite (see the namespace doc)."
  [args]
  (loop [[a & more] args, opts {:scale 1.0 :runs 3 :warmup true}]
    (case a
      nil opts
      "--quick" (recur more (assoc opts :scale 0.1))
      "--scale" (recur (rest more) (assoc opts :scale (Double/parseDouble (first more))))
      "--only" (recur (rest more) (assoc opts :only (set (map (comp keyword str/upper-case str/trim)
                                                              (str/split (first more) #",")))))
      "--peers" (recur (rest more) (assoc opts :peers (set (map (comp keyword str/trim)
                                                                (str/split (first more) #",")))))
      "--runs" (recur (rest more) (assoc opts :runs (Long/parseLong (first more))))
      "--no-warmup" (recur more (assoc opts :warmup false))
      "--out" (recur (rest more) (assoc opts :out (first more)))
      "--deadline" (recur (rest more) (assoc opts :deadline-ms (* 1000 (Long/parseLong (first more)))))
      "--shared-jvm" (recur more (assoc opts :shared-jvm true))
      "--child" (recur (rest more) (assoc opts :child (let [[w p] (str/split (first more) #",")]
                                                        [(keyword w) (keyword p)])))
      (throw (ex-info (str "unknown option " a "; see the doc of tasklet.bench") {:arg a})))))

(defn- child-main
  "One workload of one peer, in a JVM the suite forked for it: progress on
  stdout, then the medians map on a line of its own for the parent."
  [{[w peer-id] :child :as opts}]
  (let [peer (or (some #(when (= peer-id (:id %)) %) (tasklet.bench/peers))
                 (throw (ex-info (str "unknown peer " peer-id) {:peer peer-id})))
        r (binding [u/*deadline-ms* (:deadline-ms opts u/*deadline-ms*)]
            (try (run-workload peer w (assoc opts :log #(do (println %) (flush))))
                 (finally (remote/stop!))))]
    (println (str result-prefix (pr-str (assoc r :jvm (.pid (java.lang.ProcessHandle/current))))))
    (flush)
    (shutdown-agents)
    (System/exit 0)))

(defn -main
  "Run the suite with the given options, print the table, write the results
  file for a full run (or to --out)."
  [& args]
  (when (some #{"--child"} args) (child-main (parse-args args)))
  (let [opts (parse-args args)
        full? (and (== 1.0 (double (:scale opts))) (nil? (:only opts)) (nil? (:peers opts)))
        out (or (:out opts) (when full? "bench/RESULTS.md"))
        load-before (loadavg)
        m (machine)
        _ (println "tasklet bench:" (:cpu m) "," (:cores m) "cores," (:jdk m) ", strand" (:strand m)
                   ", load" load-before ", scale" (:scale opts))
        suite (binding [u/*deadline-ms* (:deadline-ms opts u/*deadline-ms*)]
                (try (run-suite (assoc opts :log #(do (println %) (flush))))
                     (finally (remote/stop!))))
        load-after (loadavg)
        text (report suite m load-before load-after)]
    (println)
    (println (table suite))
    (println)
    (println "load average before:" load-before "after:" load-after)
    (if out
      (do (spit out text) (println "wrote" out))
      (println "partial run: results not written (pass --out FILE to write them)"))
    (shutdown-agents)
    (System/exit 0)))
