(ns tasklet.bench.report
  "The suite's results as text: each figure as median [lowest–highest] of its
  runs, the table of every workload and peer, the ratios the issue's goals
  are stated in, the scaling table, and the results file (bench/RESULTS.md)
  with the machine, the commit, the load and every column's JVM options."
  (:require [clojure.java.shell :as sh]
            [clojure.string :as str]
            [tasklet.bench.util :as u])
  (:import [java.nio.file Files Paths]
           [java.time ZonedDateTime]
           [java.time.format DateTimeFormatter]))

(set! *warn-on-reflection* true)

(def metrics
  "The rows of the table: [workload key label kind]. Kinds: :rate (higher is
  better), :ms :bytes :ns :us (lower is better)."
  [[:W1 :create-ms "W1 create all, until parked (ms)" :ms]
   [:W1 :bytes-per "W1 heap per waiting process (B)" :bytes]
   [:W1 :end-ms "W1 one message each, until all ended (ms)" :ms]
   [:W2 :rt-per-s "W2 round trips/s" :rate]
   [:W2 :ns-per-hop "W2 ns/hop" :ns]
   [:W3 :create-ms "W3 ring creation (ms)" :ms]
   [:W3 :hops-per-s "W3 hops/s" :rate]
   [:W4 :msgs-per-s "W4 fan-in msgs/s" :rate]
   [:W7 :marked-us "W7 µs/rt, reply scan from a mark (async: reply chan)" :us]
   [:W7 :naive-us "W7 µs/rt, naive scan past the backlog" :us]
   [:W8 :call-ns "W8 gen-server call (ns/call)" :ns]
   [:W8 :raw-ns "W8 raw !/receive round trip (ns/rt)" :ns]
   [:BIG :msgs-per-s "Savina Big msgs/s (pings + pongs)" :rate]
   [:CHAMENEOS :meetings-per-s "Savina Chameneos meetings/s" :rate]
   [:FJC :actors-per-s "Savina Fork-Join create actors/s" :rate]
   [:W5 :rt-per-s "W5 remote round trips/s" :rate]
   [:W5 :us-per-rt "W5 remote µs/round trip" :us]
   [:W6 :msgs-per-s "W6 remote msgs/s" :rate]])

(defn summary
  "{:med :lo :hi :n} of figure k over a result's runs, or nil."
  [result k]
  (let [xs (keep #(get % k) (:runs result))]
    (when (seq xs)
      {:med (u/median xs) :lo (apply min xs) :hi (apply max xs) :n (count xs)})))

(defn- unit [kind ^double med]
  (if (= kind :rate)
    (cond (>= med 1e6) [1e6 "M"] (>= med 1e3) [1e3 "k"] :else [1.0 ""])
    [1.0 ""]))

(defn- num-str [kind ^double x ^double div]
  (let [v (/ x div)]
    (cond
      (= kind :us) (format "%,.2f" v)
      (and (= kind :rate) (not= div 1.0)) (cond (< v 10) (format "%.2f" v)
                                                 (< v 100) (format "%.1f" v)
                                                 :else (format "%,.0f" v))
      :else (format "%,.0f" v))))

(defn cell
  "A figure as \"median [lowest–highest]\" in the median's unit, e.g.
  \"4.31M [2.50–4.52]\"."
  [kind {:keys [med lo hi]}]
  (let [[div suffix] (unit kind (double med))]
    (str (num-str kind med div) suffix " [" (num-str kind lo div) "–" (num-str kind hi div) "]")))

(defn- result-cell [results w peer-id kind k]
  (let [r (get-in results [w peer-id])]
    (cond
      (nil? r) "–"
      (:error r) (str "error: " (:error r))
      (:na r) (or (:na r) "–")
      :else (if-let [s (summary r k)] (cell kind s) "–"))))

(defn- main-peers [suite] (remove :scaling (:peers suite)))

(defn table
  "The results as a Markdown table: one row per figure, one column per peer."
  [{:keys [results workloads] :as suite}]
  (let [ws (set workloads)
        ps (main-peers suite)
        header (str "| figure | " (str/join " | " (map :label ps)) " |")
        sep (str "|---|" (str/join "|" (repeat (count ps) "---:")) "|")
        rows (for [[w k label kind] metrics
                   :when (ws w)]
               (str "| " label " | "
                    (str/join " | " (for [p ps] (result-cell results w (:id p) kind k)))
                    " |"))]
    (str/join "\n" (concat [header sep] rows))))

(defn- med [results w peer k] (:med (summary (get-in results [w peer]) k)))

(def ^:private ratio-rows
  "[label workload key numerator-peer denominator-peer goal]: the issue's goals."
  [["W4 fan-in: tasklet / VT + CLQ" :W4 :msgs-per-s :tasklet :vthread 1.0]
   ["W2 ping-pong: tasklet / raw continuation" :W2 :rt-per-s :tasklet :rawcont 0.9]
   ["W3 ring: tasklet / raw continuation" :W3 :hops-per-s :tasklet :rawcont 0.8]
   ["W5 remote round trips: tasklet / Erlang" :W5 :rt-per-s :tasklet :erlang 2.0]
   ["W6 remote one-way: tasklet / Erlang" :W6 :msgs-per-s :tasklet :erlang 2.0]
   ["Savina Big: tasklet / Erlang" :BIG :msgs-per-s :tasklet :erlang 1.0]
   ["Savina Big: tasklet / Pekko" :BIG :msgs-per-s :tasklet :pekko 1.0]
   ["Savina Chameneos: tasklet / Erlang" :CHAMENEOS :meetings-per-s :tasklet :erlang 1.0]
   ["Savina Chameneos: tasklet / Pekko" :CHAMENEOS :meetings-per-s :tasklet :pekko 1.0]
   ["Savina Fork-Join create: tasklet / Erlang" :FJC :actors-per-s :tasklet :erlang 1.0]
   ["Savina Fork-Join create: tasklet / Pekko" :FJC :actors-per-s :tasklet :pekko 1.0]])

(def ^:private predictability-rows
  "The local workloads' main figures, whose slowest run must be at least 0.6x the median."
  [[:W1 :create-ms "W1 create (ms)" :ms]
   [:W1 :end-ms "W1 end (ms)" :ms]
   [:W2 :rt-per-s "W2 round trips/s" :rate]
   [:W3 :hops-per-s "W3 hops/s" :rate]
   [:W4 :msgs-per-s "W4 msgs/s" :rate]
   [:W7 :marked-us "W7 marked µs/rt" :us]
   [:W8 :call-ns "W8 ns/call" :ns]])

(defn- verdict [ok?] (if ok? "met" "**not met**"))

(defn ratios
  "The goals of issue 15 as ratios of medians within this run, and the
  predictability of every local tasklet figure (slowest run / median)."
  [{:keys [results]}]
  (let [rows (for [[label w k a b goal] ratio-rows
                   :let [x (med results w a k) y (med results w b k)]
                   :when (and x y)]
               (let [r (/ (double x) (double y))]
                 (format "| %s | %.2f | ≥ %.1f | %s |" label r goal (verdict (>= r goal)))))
        bytes (med results :W1 :tasklet :bytes-per)
        bytes-row (when bytes
                    (format "| W1 heap per waiting tasklet (B) | %.0f | ≤ 450 | %s |" (double bytes) (verdict (<= (double bytes) 450.0))))
        pred (for [[w k label kind] predictability-rows
                   :let [s (summary (get-in results [w :tasklet]) k)]
                   :when s]
               (let [{:keys [med lo hi]} s
                     r (if (= kind :rate) (/ (double lo) (double med)) (/ (double med) (double hi)))]
                 (format "| %s: tasklet's slowest run / median | %.2f | ≥ 0.6 | %s |" label r (verdict (>= r 0.6)))))]
    (str/join "\n" (concat ["| goal (issue 15), medians of this run | ratio | goal | |" "|---|---:|---:|---|"]
                           rows (when bytes-row [bytes-row]) pred))))

(defn scaling
  "W3 and W4 of tasklet with 1 worker and with the default (or --workers)
  count, and the ratio of the medians."
  [{:keys [results workers]}]
  (let [n (or workers (.availableProcessors (Runtime/getRuntime)))
        rows (for [[w k label] [[:W3 :hops-per-s "W3 hops/s"] [:W4 :msgs-per-s "W4 msgs/s"]]
                   :let [one (summary (get-in results [w :tasklet-1w]) k)
                         many (summary (get-in results [w :tasklet]) k)]
                   :when (and one many)]
               (format "| %s | %s | %s | %.2f |" label (cell :rate one) (cell :rate many)
                       (/ (double (:med many)) (double (:med one)))))]
    (if (seq rows)
      (str/join "\n" (concat [(str "| tasklet (continuation) | 1 worker | " n " workers | " n " / 1 |") "|---|---:|---:|---:|"]
                             rows))
      "(no scaling figures in this run: W3/W4 of tasklet and tasklet-1w)")))

(def ^:private headline-rows
  [[:W2 :rt-per-s "W2 ping-pong round trips/s" :rate]
   [:W3 :hops-per-s "W3 ring hops/s" :rate]
   [:W4 :msgs-per-s "W4 fan-in msgs/s" :rate]
   [:W1 :bytes-per "W1 bytes per waiting process" :bytes]
   [:W5 :rt-per-s "W5 remote round trips/s" :rate]
   [:W6 :msgs-per-s "W6 remote msgs/s" :rate]
   [:BIG :msgs-per-s "Savina Big msgs/s" :rate]
   [:CHAMENEOS :meetings-per-s "Savina Chameneos meetings/s" :rate]
   [:FJC :actors-per-s "Savina Fork-Join create actors/s" :rate]])

(defn headline
  "The README's table: the main figures of tasklet next to VT + CLQ, the raw
  continuation floor, Erlang/OTP and Pekko, all under the JVM's defaults."
  [{:keys [results workloads peers]}]
  (let [ids (filterv (set (map :id peers)) [:tasklet :vthread :rawcont :erlang :pekko :tasklet-tuned])
        label (into {} (map (juxt :id :label) peers))
        ws (set workloads)]
    (str/join "\n"
              (concat [(str "| median [lowest–highest] of 5 runs | " (str/join " | " (map label ids)) " |")
                       (str "|---|" (str/join "|" (repeat (count ids) "---:")) "|")]
                      (for [[w k l kind] headline-rows :when (ws w)]
                        (str "| " l " | " (str/join " | " (for [id ids] (let [c (result-cell results w id kind k)]
                                                                           (if (str/starts-with? c "n/a") "–" c))))
                             " |"))))))

;; ---------------------------------------------------------------------------
;; The machine

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

(defn loadavg
  "The 1, 5 and 15 minute load averages as a string."
  []
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
  "A map describing this machine for the results file."
  []
  {:source (source-state)
   :cpu (cpu-model)
   :cores (.availableProcessors (Runtime/getRuntime))
   :jdk (str (System/getProperty "java.vm.vendor") " " (System/getProperty "java.runtime.version"))
   :core-async (try ((requiring-resolve 'tasklet.bench.async-peer/default-mode)) (catch Throwable e (str "unknown: " e)))
   :date (.format (ZonedDateTime/now) DateTimeFormatter/RFC_1123_DATE_TIME)})

(defn- busy?
  "Whether other jobs shared the machine: a 1-minute load average above half
  the cores before the run, or above the suite's own (cores + 1) after it."
  [before after cores]
  (let [l1 (fn [s] (try (Double/parseDouble (first (str/split (str s) #"\s+"))) (catch Exception _ 0.0)))]
    (or (> (double (l1 before)) (* 0.5 (double cores)))
        (> (double (l1 after)) (+ 1.0 (double cores))))))

(defn results-file
  "The results file: machine, columns with their JVM options, the table,
  the goals' ratios, the scaling table and notes. jvm-flags is a fn of a
  peer and the options giving its child JVM's options."
  [suite m load-before load-after jvm-flags]
  (let [opts {:workers (:workers suite)}
        erl (some #(when (:otp %) %) (vals (get-in suite [:results :W2])))]
    (str "# Benchmark results\n\n"
         "Written by `make bench` (`lein bench`, ns tasklet.bench); do not edit by hand.\n\n"
         "- CPU: " (:cpu m) ", " (:cores m) " cores; JDK: " (:jdk m) "\n"
         "- date: " (:date m) "; " (:source m) "\n"
         "- load average (1, 5, 15 min) before: " load-before "; after: " load-after
         (when (busy? load-before load-after (:cores m))
           (str " — **other jobs were running on these " (:cores m) " cores during this run**: "
                "figures are lower and noisier than on an idle machine"))
         "\n"
         (format "- the whole run took %.1f min; scale %s; each figure is the median [lowest–highest] of %d runs after %.0f s of warm-up runs, %s\n"
                 (/ (double (:seconds suite)) 60.0) (:scale suite) (long (:runs suite)) (/ (double (:warmup-ms suite)) 1000.0)
                 (if (:shared-jvm suite) "all in one JVM" "each workload of each JVM peer in a fresh JVM of its own"))
         "- workers: " (if-let [w (:workers suite)] (str w " (--workers)") (str (:cores m) " (the cores; tasklet's default)")) "\n\n"
         "JVM options of each column's JVMs (nothing else: no -Xms/-Xmx, no -Xss, G1 unless named):\n\n"
         (str/join "\n" (for [p (:peers suite)]
                          (str "- " (:label p) ": "
                               (if (:in-process p)
                                 (str "not a JVM: bench/erlang/run.sh, erl +P 2000000"
                                      (when (:workers suite) (str " +S " (:workers suite) ":" (:workers suite)))
                                      (when erl (str "; OTP " (:otp erl) ", " (:schedulers erl) " schedulers")))
                                 (str "`" (str/join " " (jvm-flags p opts)) "`"
                                      (when-let [r (some #(when (:jvm-args %) %) (map #(get % (:id p)) (vals (:results suite))))]
                                        (str " (as a child JVM reported them: `" (str/join " " (:jvm-args r)) "`; collectors "
                                             (str/join ", " (:gc r)) ")"))
                                      (when (:pekko p) "; Pekko 1.7.0 classic actors, default dispatcher a fork-join executor with parallelism-min = parallelism-max = that number, throughput 5")
                                      (when (:scale-by p) (str "; " (str/join ", " (for [[w f] (:scale-by p)] (str (name w) " at " f " of the counts"))) " (28 s and 13 s a run at the full counts; rates per second as for every peer)")))))))
         "\n\n## Every workload and peer\n\n"
         (table suite) "\n\n"
         "## The goals of issue 15 (ratios of this run's medians)\n\n"
         (ratios suite) "\n\n"
         "## What a second core buys (W3, W4; tasklet on the continuation strand, defaults)\n\n"
         (scaling suite) "\n\n"
         "## Headline (the README's table)\n\n"
         (headline suite) "\n\n"
         "## Notes\n\n"
         "Peers: tasklet on the continuation strand and (a JVM of its own with -Dtasklet.strand=virtual) on the "
         "virtual-thread strand, spawned from the plain measuring thread; core.async `go` blocks with a channel of 1,024 "
         "per process as its mailbox (" (:core-async m) "; in W4 a full channel parks the senders); plain Java "
         "virtual threads, each with a ConcurrentLinkedQueue mailbox and LockSupport park/unpark (VT + CLQ); raw "
         "jdk.internal.vm.Continuation objects resumed by one thread from an ArrayDeque run queue, each with an "
         "ArrayDeque mailbox (the floor under W2/W3: no synchronisation, no second worker); Erlang/OTP "
         "(bench/erlang/erl_peer.erl); Pekko classic actors (AbstractActor, tell).\n\n"
         "Savina (Imam and Sarkar 2014), written from the definitions with the same parameters for every peer: "
         "Big, 120 actors each sending 20,000 pings to random others (SplittableRandom / rand seeded per actor), "
         "each answered with a pong, the next ping sent on the pong, msgs/s counting pings and pongs "
         "(4,800,000), checked by the answered pings summed over the actors; Chameneos, 100 chameneos of three "
         "colours, 1,000,000 meetings through one mall (a meeting = two requests, the mall's message to the "
         "first, the first's colour change to the second), timed to the last meeting, checked by the mall's "
         "count and the chameneos' own counts (2,000,000); Fork-Join create, 500,000 actors created by the "
         "measuring thread, one message each, each computing sin(37.2)² and ending, timed until the last has "
         "run, checked by the sum of the messages.\n\n"
         "W1 counts a process as created when it has run up to its receive; heap is MemoryMXBean's used heap "
         "after three System.gc(), minus the same before (Erlang: erlang:memory(processes)). W7's marked "
         "column for tasklet marks the mailbox's end before the request goes out (as tasklet.server does). "
         "W8's raw round trip is the same request/reply shape without the call's monitor. W5/W6 run between "
         "the workload's JVM and one child JVM forked by tasklet.node/start-local-nodes!, Nippy over TCP on "
         "127.0.0.1; Erlang's against a second node started with OTP's peer module.\n\n"
         "**Absolute figures on this 2-core machine move up to 2× between days: compare peers only within one run.**\n")))
