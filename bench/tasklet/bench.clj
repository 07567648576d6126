(ns tasklet.bench
  "`lein bench` (`make bench`): the side-by-side benchmark suite (issues 5
  and 15), measured as a user runs the library.

  Every workload of every JVM peer runs in a fresh JVM of its own, started
  with JDK 25's defaults (G1, no -Xss, no -Xms/-Xmx) and only the two flags
  the continuation strand needs, `--add-exports
  java.base/jdk.internal.vm=ALL-UNNAMED --enable-native-access=ALL-UNNAMED`
  (project.clj's :jvm-opts, which add -XX:+UseParallelGC -Xss2m, reach only
  the parent JVM, which just orchestrates). Tuned flags are a column of their
  own, labelled with them. In each JVM: warm-up runs for 3 s (at a tenth
  of the counts), then `runs`
  (5) measured runs; a figure is shown as the median [lowest–highest] of
  its runs. The tasklets are spawned from the plain
  measuring thread, as at the REPL. The Erlang/OTP column is one erl run of
  bench/erlang/erl_peer.erl (its own warm-up and runs per workload).

  Columns (peers): tasklet on the continuation strand; tasklet on the
  virtual-thread strand (-Dtasklet.strand=virtual); core.async go blocks;
  plain virtual threads with a ConcurrentLinkedQueue mailbox (VT + CLQ); raw
  jdk.internal.vm.Continuation objects on one thread (W2/W3's floor);
  Erlang/OTP; Pekko classic actors (Savina); tasklet with the tuned flags
  (-XX:+UseParallelGC -Xss2m). A scaling table runs W3 and W4 with 1 worker
  against the default (or --workers) count.

  Options (`make bench ARGS=\"...\"`, `lein bench ...`):
    --quick          every count at 1/10, 3 runs, 1 s warm-up (about 6 min)
    --scale X        every count times X (e.g. 0.01)
    --only W2,BIG    only these workloads (W1 W2 W3 W4 W7 W8 BIG CHAMENEOS FJC W5 W6)
    --peers a,b      only these peers (tasklet tasklet-vt async vthread rawcont
                     erlang pekko tasklet-tuned tasklet-1w)
    --runs N         measured runs per figure (default 5)
    --warmup S       seconds of warm-up runs per JVM (default 3)
    --no-warmup      no warm-up runs
    --workers N      tasklet's worker count (-Dtasklet.workers=N), the
                     virtual-thread scheduler's parallelism, Pekko's
                     dispatcher parallelism and Erlang's schedulers (+S N:N);
                     default: the machine's cores, passed to none but Pekko
    --out FILE       write the results there (default bench/RESULTS.md, and
                     only for a full run: a partial run prints only)
    --deadline S     a run not done within S seconds (default 300) is an
                     error (a lost wake-up must not hang the suite)
    --with-slow      also core.async's W1 (a million go blocks: 2 min more)
    --shared-jvm     every pair in this JVM instead of one JVM per pair
                     (development; not the published figures)
    help, --help     this text (Leiningen takes -h and --help after an alias
                     for itself: `lein bench help`, make bench ARGS=help)

  Every workload checks its message counts or checksums and reports an error
  instead of a figure when they are wrong."
  (:require [clojure.edn :as edn]
            [clojure.string :as str]
            [tasklet.bench.report :as report]
            [tasklet.bench.util :as u])
  (:import [java.lang.management ManagementFactory]
           [tasklet.kernel Node]))

(set! *warn-on-reflection* true)

(def workloads
  "The workloads in order, with what each measures."
  [[:W1 "spawn 1,000,000 waiting in receive"]
   [:W2 "ping-pong, 1,000,000 round trips"]
   [:W3 "ring of 10,000, token round 100 times"]
   [:W4 "fan-in, 4 senders x 1,000,000 [:msg i]"]
   [:W7 "selective receive past 10,000 non-matching"]
   [:W8 "gen-server call vs raw !/receive round trip"]
   [:BIG "Savina Big: 120 actors x 20,000 random pings, each answered"]
   [:CHAMENEOS "Savina Chameneos: 100 chameneos, 1,000,000 meetings through one mall"]
   [:FJC "Savina Fork-Join create: 500,000 actors, one message each"]
   ;; last: they fork a second JVM, which then shares the two cores
   [:W5 "remote ping-pong (2 JVMs), 100,000 round trips"]
   [:W6 "remote one-way, 1,000,000 messages"]])

(def default-flags
  "The only JVM options of a headline column: what the continuation strand needs."
  ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED" "--enable-native-access=ALL-UNNAMED"])

(def tuned-flags
  "The tuned column's flags on top of the defaults (project.clj's :jvm-opts)."
  ["-XX:+UseParallelGC" "-Xss2m"])

(defn- node-of
  "The kernel node a tasklet peer runs on: the JVM's default node, or for
  :virtual a virtual-strand node (the default one in a JVM started with
  -Dtasklet.strand=virtual, else a second node of this JVM)."
  ^Node [kind]
  (let [tp-node (requiring-resolve 'tasklet.bench.tasklet-peer/continuation-node)
        local ^Node (tp-node)]
    (if (or (= kind :default) (= "virtual" (.strandName local)))
      local
      ((requiring-resolve 'tasklet.bench.tasklet-peer/virtual-node)))))

(defn- on-node [kind sym] (fn [params] ((requiring-resolve sym) (node-of kind) params)))
(defn- plain [sym] (fn [params] ((requiring-resolve sym) params)))
(defn- requiring-resolve-later [sym] (fn [] ((requiring-resolve sym))))

(defn- tasklet-runs
  "The tasklet workloads of W1-W4, W7, W8 and Savina on the node of kind."
  [kind]
  (into {}
        (for [[w sym] {:W1 'tasklet.bench.tasklet-peer/w1 :W2 'tasklet.bench.tasklet-peer/w2
                       :W3 'tasklet.bench.tasklet-peer/w3 :W4 'tasklet.bench.tasklet-peer/w4
                       :W7 'tasklet.bench.tasklet-peer/w7 :W8 'tasklet.bench.tasklet-peer/w8
                       :BIG 'tasklet.bench.savina-tasklet/big
                       :CHAMENEOS 'tasklet.bench.savina-tasklet/chameneos
                       :FJC 'tasklet.bench.savina-tasklet/fjc}]
          [w (on-node kind sym)])))

(defn- erlang-runs [ws]
  (into {} (for [w ws] [w (fn [params] ((requiring-resolve 'tasklet.bench.erlang-peer/runs) w params))])))

(def ^:private no-dist {:W5 "n/a (no distribution)" :W6 "n/a (no distribution)"})

(defn peers
  "The peers in column order: {:id :label :flags (JVM options beyond
  default-flags) :run {workload (fn [params] figures)} :na {workload why}
  :setup {workload (fn [])} (run before its warm-up)
  :scale-by {workload factor}}. A workload missing from :run and :na is
  left blank. :scaling peers appear only in the scaling table."
  []
  [{:id :tasklet :label "tasklet (continuation)" :flags []
    :run (assoc (tasklet-runs :default) :W5 (plain 'tasklet.bench.remote/w5) :W6 (plain 'tasklet.bench.remote/w6))
    ;; the child JVM's start (4-6 s) is set-up, not warm-up: inside the warm-up
    ;; window it left W6 one warm-up run of 100k messages, and the measured
    ;; runs paid both JVMs' JIT (ADR 0010, session 5)
    :setup {:W5 (requiring-resolve-later 'tasklet.bench.remote/setup!)
            :W6 (requiring-resolve-later 'tasklet.bench.remote/setup!)}}
   {:id :tasklet-vt :label "tasklet virtual" :flags ["-Dtasklet.strand=virtual"] :vt true
    :run (tasklet-runs :virtual)
    :na {:W5 "n/a (remote runs on the default strand only)" :W6 "n/a (remote runs on the default strand only)"}}
   {:id :async :label "core.async go" :flags []
    ;; 28 s and 13 s a run at the full counts: a tenth, rates per second as ever
    :scale-by {:W2 0.1 :W3 0.1}
    ;; 14-20 s a run, 2 min with its JVM: only with --with-slow
    :slow {:W1 "n/a (14–20 s a run: make bench ARGS=--with-slow runs it)"}
    :run {:W1 (plain 'tasklet.bench.async-peer/w1) :W2 (plain 'tasklet.bench.async-peer/w2)
          :W3 (plain 'tasklet.bench.async-peer/w3) :W4 (plain 'tasklet.bench.async-peer/w4)
          :W7 (plain 'tasklet.bench.async-peer/w7)}
    :na (assoc no-dist :W8 "n/a (no gen-server)")}
   {:id :vthread :label "VT + CLQ" :flags [] :vt true
    :run {:W1 (plain 'tasklet.bench.vthread-peer/w1) :W2 (plain 'tasklet.bench.vthread-peer/w2)
          :W3 (plain 'tasklet.bench.vthread-peer/w3) :W4 (plain 'tasklet.bench.vthread-peer/w4)
          :W7 (plain 'tasklet.bench.vthread-peer/w7)
          :BIG (plain 'tasklet.bench.savina-vthread/big)
          :CHAMENEOS (plain 'tasklet.bench.savina-vthread/chameneos)
          :FJC (plain 'tasklet.bench.savina-vthread/fjc)}
    :na (assoc no-dist :W8 "n/a (no gen-server)")}
   {:id :rawcont :label "raw continuation, 1 thread" :flags []
    :run {:W2 (plain 'tasklet.bench.rawcont-peer/w2) :W3 (plain 'tasklet.bench.rawcont-peer/w3)}}
   {:id :erlang :label "Erlang/OTP" :in-process true   ; one erl run, its own OS process
    :run (erlang-runs [:W1 :W2 :W3 :W4 :BIG :CHAMENEOS :FJC :W5 :W6])
    :na {:W7 "n/a (not in bench/erlang)" :W8 "n/a (not in bench/erlang)"}}
   {:id :pekko :label "Pekko classic" :flags [] :pekko true
    :run {:BIG (plain 'tasklet.bench.savina-pekko/big)
          :CHAMENEOS (plain 'tasklet.bench.savina-pekko/chameneos)
          :FJC (plain 'tasklet.bench.savina-pekko/fjc)}}
   ;; W1, W7, W8 left out: the tuned flags did not move them (W1 in a run of
   ;; 2026-12-03: 1,361 ms tuned, 1,235 defaults), and each JVM costs the run ~20 s
   {:id :tasklet-tuned :label "tasklet, tuned: ParallelGC, -Xss2m" :flags tuned-flags
    :run (dissoc (tasklet-runs :default) :W1 :W7 :W8)}
   {:id :tasklet-1w :label "tasklet, 1 worker" :flags ["-Dtasklet.workers=1"] :scaling true
    :run (select-keys (tasklet-runs :default) [:W3 :W4])}])

(defn jvm-flags
  "The JVM options of peer's child JVMs for the options opts (--workers)."
  [peer {:keys [workers]}]
  (vec (concat default-flags
               (:flags peer)
               (when (and workers (not (:scaling peer)))
                 (concat (when-not (#{:async :vthread :rawcont :pekko} (:id peer)) [(str "-Dtasklet.workers=" workers)])
                         (when (:vt peer) [(str "-Djdk.virtualThreadScheduler.parallelism=" workers)])))
               (when (:pekko peer)
                 [(str "-Dtasklet.bench.pekko.parallelism=" (or workers (.availableProcessors (Runtime/getRuntime))))]))))

;; ---------------------------------------------------------------------------
;; Running

(defn- run-once [f params]
  (System/gc)
  (try (f params)
       (catch Throwable e
         {:error (str (.getSimpleName (class e)) ": " (.getMessage e))})))

(defn params-for
  "Workload w's parameters at scale for peer (its :scale-by on top), with
  what the Erlang peer needs to run itself."
  [peer w {:keys [scale runs workers] :or {scale 1.0 runs 5}}]
  (when (u/full-params w)
    (assoc (u/scaled w (* (double scale) (double (get-in peer [:scale-by w] 1.0))))
           :bench/scale scale :bench/runs runs :bench/workers workers)))

(defn run-workload
  "Run workload w of peer in this JVM: its set-up (the peer's :setup for w,
  e.g. W5/W6's child JVM), warm-up runs for warmup-ms (none when warmup is
  false), then `runs` measured runs. Returns {:runs [figures...]},
  or {:na why} / {:error why}. A peer that runs itself (Erlang) returns its
  own {:runs [...]}."
  [peer w {:keys [runs warmup warmup-ms log] :or {runs 5 warmup true warmup-ms 3000 log (fn [_])} :as opts}]
  (let [params (params-for peer w opts)
        warm-params (params-for peer w (update opts :scale #(* 0.1 (double (or % 1.0)))))
        f (get-in peer [:run w])]
    (cond
      (get-in peer [:na w]) {:na (get-in peer [:na w])}
      (and (get-in peer [:slow w]) (not (:with-slow opts))) {:na (get-in peer [:slow w])}
      (nil? f) {:na nil}
      (:in-process peer) (let [r (run-once f params)] (log (str "  " (name w) " " (:label peer) ": " (pr-str r))) r)
      :else
      (do (when-let [setup (get-in peer [:setup w])]
            (setup))
          (when warmup
            ;; a fresh JVM needs more than one short run before C2 has compiled
            ;; the hot path (W3's first runs in a fresh JVM: 0.9M, 3.0M, 3.9M,
            ;; then 6M hops/s): warm up for warmup-ms, with at least one run, at
            ;; a tenth of the counts (the same code; a W1 run at full count
            ;; alone takes longer than the warm-up)
            (let [until (+ (System/nanoTime) (* 1000000 (long warmup-ms)))]
              (loop [i 1]
                (log (str "  " (name w) " " (:label peer) " warm-up " i))
                (run-once f warm-params)
                (when (neg? (- (System/nanoTime) until)) (recur (inc i))))))
          (let [rs (vec (for [i (range runs)]
                          (let [r (run-once f params)]
                            (log (str "  " (name w) " " (:label peer) " run " (inc i) ": " (pr-str r)))
                            r)))]
            (or (some #(when (or (:na %) (:error %)) %) rs)
                {:runs rs}))))))

(defn child-command
  "The command line of a fresh JVM (this java and classpath, peer's own
  options) running one workload of one peer (see `-main`'s --child)."
  [w peer {:keys [scale runs warmup warmup-ms deadline-ms workers] :or {warmup-ms 3000} :as opts}]
  (vec (concat [(str (System/getProperty "java.home") "/bin/java")]
               (jvm-flags peer opts)
               ["-cp" (System/getProperty "java.class.path") "clojure.main" "-m" "tasklet.bench"
                "--child" (str (name w) "," (name (:id peer)))
                "--scale" (str scale) "--runs" (str runs)
                "--warmup" (str (/ (double warmup-ms) 1000.0))
                "--deadline" (str (quot (long (or deadline-ms u/*deadline-ms*)) 1000))]
               (when workers ["--workers" (str workers)])
               (when (:with-slow opts) ["--with-slow"])
               (when-not warmup ["--no-warmup"]))))

(def ^:private result-prefix "tasklet.bench/result ")

(defn- run-in-child
  "Run workload w of peer in a fresh JVM, passing its progress lines to log;
  its {:runs [...]}, or {:error why} when the child printed no result."
  [peer w {:keys [log runs deadline-ms] :or {log (fn [_]) runs 5} :as opts}]
  (let [pb (doto (ProcessBuilder. ^java.util.List (child-command w peer opts))
             (.redirectErrorStream true))
        proc (.start pb)
        ;; each run has its own deadline inside the child; this one catches a
        ;; child stuck outside a run (startup, shutdown)
        limit-ms (+ 120000 (* (+ 2 (long runs)) (long (or deadline-ms u/*deadline-ms*))))
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
  :only (set of workload keys), :peers (set of peer ids), :runs (5), :warmup
  (true), :warmup-ms (3000), :workers, :shared-jvm (false: a fresh JVM per
  workload and peer), :log (a fn of a progress line). Returns {:results {w
  {peer-id {:runs [figures...]} | {:na why} | {:error why}}} :peers [...]
  :workloads [...] :scale s :seconds elapsed}."
  [{:keys [scale only peers] :or {scale 1.0} :as opts}]
  (let [ps (filterv #(or (nil? peers) (peers (:id %))) (tasklet.bench/peers))
        ws (filterv #(or (nil? only) (only %)) (map first workloads))
        opts (assoc opts :scale scale)
        run (fn [p w]
              (cond
                (and (:shared-jvm opts) (:scaling p)) {:na "n/a (--shared-jvm: no JVM with its own worker count)"}
                (or (:shared-jvm opts) (:in-process p) (get-in p [:na w]) (nil? (get-in p [:run w]))
                    (and (get-in p [:slow w]) (not (:with-slow opts))))
                (run-workload p w opts)
                :else (run-in-child p w opts)))
        t0 (u/now)
        results (into {}
                      (for [w ws]
                        [w (into {} (for [p ps] [(:id p) (run p w)]))]))]
    {:scale scale
     :runs (:runs opts 5)
     :warmup-ms (if (:warmup opts true) (:warmup-ms opts 3000) 0)
     :workers (:workers opts)
     :shared-jvm (boolean (:shared-jvm opts))
     :peers ps
     :workloads ws
     :seconds (/ (- (u/now) t0) 1e9)
     :results results}))

;; ---------------------------------------------------------------------------

(defn parse-args
  "Command-line options as a map for run-suite (see the namespace doc)."
  [args]
  (let [ids #(set (map (comp keyword str/trim) (str/split % #",")))]
    (loop [[a & more] args, opts {:scale 1.0 :runs 5 :warmup true}]
      (case a
        nil opts
        "--quick" (recur more (assoc opts :scale 0.1 :runs 3 :warmup-ms 1000 :quick true))
        "--scale" (recur (rest more) (assoc opts :scale (Double/parseDouble (first more))))
        "--only" (recur (rest more) (assoc opts :only (set (map (comp keyword str/upper-case str/trim)
                                                                (str/split (first more) #",")))))
        "--peers" (recur (rest more) (assoc opts :peers (ids (first more))))
        "--runs" (recur (rest more) (assoc opts :runs (Long/parseLong (first more))))
        "--warmup" (recur (rest more) (assoc opts :warmup-ms (long (* 1000 (Double/parseDouble (first more))))))
        "--no-warmup" (recur more (assoc opts :warmup false))
        "--workers" (recur (rest more) (assoc opts :workers (Long/parseLong (first more))))
        "--out" (recur (rest more) (assoc opts :out (first more)))
        "--deadline" (recur (rest more) (assoc opts :deadline-ms (* 1000 (Long/parseLong (first more)))))
        "--shared-jvm" (recur more (assoc opts :shared-jvm true))
        "--with-slow" (recur more (assoc opts :with-slow true))
        ("--help" "-h" "help") (recur more (assoc opts :help true))
        "--child" (recur (rest more) (assoc opts :child (let [[w p] (str/split (first more) #",")]
                                                          [(keyword w) (keyword p)])))
        (throw (ex-info (str "unknown option " a "; lein bench --help lists them") {:arg a}))))))

(defn- child-main
  "One workload of one peer, in a JVM the suite forked for it: progress on
  stdout, then the runs on a line of its own for the parent."
  [{[w peer-id] :child :as opts}]
  (let [peer (or (some #(when (= peer-id (:id %)) %) (tasklet.bench/peers))
                 (throw (ex-info (str "unknown peer " peer-id) {:peer peer-id})))
        r (binding [u/*deadline-ms* (:deadline-ms opts u/*deadline-ms*)]
            (try (run-workload peer w (assoc opts :log #(do (println %) (flush))))
                 (finally (when (find-ns 'tasklet.bench.remote)
                            ((requiring-resolve 'tasklet.bench.remote/stop!))))))]
    (println (str result-prefix (pr-str (assoc r :jvm (.pid (java.lang.ProcessHandle/current))
                                               :jvm-args (vec (.getInputArguments (ManagementFactory/getRuntimeMXBean)))
                                               :gc (mapv #(.getName ^java.lang.management.GarbageCollectorMXBean %)
                                                         (ManagementFactory/getGarbageCollectorMXBeans))))))
    (flush)
    (shutdown-agents)
    (System/exit 0)))

(defn -main
  "Run the suite with the given options, print the tables, write the results
  file for a full run (or to --out)."
  [& args]
  (let [opts (parse-args args)]
    (when (:help opts)
      (println (:doc (meta (find-ns 'tasklet.bench))))
      (System/exit 0))
    (when (:child opts) (child-main opts))
    (let [full? (and (== 1.0 (double (:scale opts))) (nil? (:only opts)) (nil? (:peers opts))
                     (>= (long (:runs opts)) 5))
          out (or (:out opts) (when full? "bench/RESULTS.md"))
          load-before (report/loadavg)
          m (report/machine)
          _ (println "tasklet bench:" (:cpu m) "," (:cores m) "cores," (:jdk m) ", load" load-before
                     ", scale" (:scale opts) "," (:runs opts) "runs")
          suite (binding [u/*deadline-ms* (:deadline-ms opts u/*deadline-ms*)]
                  (run-suite (assoc opts :log #(do (println %) (flush)))))
          load-after (report/loadavg)
          text (report/results-file suite m load-before load-after jvm-flags)]
      (println)
      (println (report/table suite))
      (println)
      (println (report/ratios suite))
      (println)
      (println (report/scaling suite))
      (println)
      (println (format "load average before: %s after: %s; %.0f s" load-before load-after (double (:seconds suite))))
      (if out
        (do (spit out text) (println "wrote" out))
        (println "partial run: results not written (pass --out FILE to write them)"))
      (shutdown-agents)
      (System/exit 0))))
