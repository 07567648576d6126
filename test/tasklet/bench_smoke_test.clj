(ns tasklet.bench-smoke-test
  "Runs every workload of the benchmark suite for every peer at a tiny scale
  (W2 with 1,000 round trips, W1 with 1,000 tasklets...) and checks that each
  figure is a well-formed number, so the suite cannot rot unnoticed. Times
  nothing: no figure is compared with a bound. W5/W6 (a second JVM) are a
  :stress test (`make stress`)."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.bench :as bench]
            [tasklet.bench.remote :as remote]
            [tasklet.bench.report :as report]
            [tasklet.bench.util :as u]))

(set! *warn-on-reflection* true)

(defn- number-ok? [x]
  (and (number? x) (not (Double/isNaN (double x))) (not (Double/isInfinite (double x)))))

(def ^:private local-workloads
  "All but W5/W6: those fork a second JVM, whose start alone takes 5-20 s on
  a busy 2-core machine; they have their own :stress test below."
  (disj (set (map first bench/workloads)) :W5 :W6))

(def ^:private suite
  "The local workloads at 1/1000 scale, one run, no warm-up (made once), all
  in this JVM (a JVM per pair is tested once below: 40 of them would take
  minutes). Pekko is not on the test classpath: its column says n/a."
  (delay (binding [u/*deadline-ms* 20000]
           (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only local-workloads :shared-jvm true}))))

(defn- one-run
  "The figures of a result's single run (or the result itself when n/a or an error)."
  [r]
  (if (:runs r) (first (:runs r)) r))

(defn- figures-ok [w figures]
  (is (not (:error figures)) (str "error: " (:error figures)))
  (if (:na figures)
    (is (str/starts-with? (str (:na figures)) "n/a"))
    (doseq [[_ k label] (filter #(= w (first %)) report/metrics)
            :let [x (get figures k)]
            :when (some? x)]
      (is (number-ok? x) (str label " = " (pr-str x)))
      ;; heap per process may come out below zero at this scale: GC noise
      (when-not (= k :bytes-per)
        (is (<= 0 (double x)) (str label " = " (pr-str x)))))))

(deftest every-workload-runs-at-a-tiny-scale
  (let [results (:results @suite)]
    (is (= local-workloads (set (keys results))))
    (doseq [[w by-peer] results
            [peer figures] by-peer]
      (testing (str (name w) " " (name peer))
        (figures-ok w (one-run figures))))))

(deftest tasklet-figures-are-all-there
  (let [results (:results @suite)]
    (doseq [peer [:tasklet :tasklet-vt :tasklet-tuned]
            [w k] [[:W1 :create-ms] [:W1 :bytes-per] [:W1 :end-ms] [:W2 :rt-per-s] [:W2 :ns-per-hop]
                   [:W3 :create-ms] [:W3 :hops-per-s] [:W4 :msgs-per-s]
                   [:W7 :marked-us] [:W7 :naive-us] [:W8 :call-ns] [:W8 :raw-ns]
                   [:BIG :msgs-per-s] [:CHAMENEOS :meetings-per-s] [:FJC :actors-per-s]]
            ;; the tuned column leaves out what the flags do not move
            :when (not (and (= peer :tasklet-tuned) (#{:W1 :W7 :W8} w)))]
      (is (number-ok? (get (one-run (get-in results [w peer])) k)) (str (name w) " " (name peer) " " k)))
    (testing "the other peers' Savina and floor figures"
      (doseq [[w peer k] [[:BIG :vthread :msgs-per-s] [:CHAMENEOS :vthread :meetings-per-s]
                          [:FJC :vthread :actors-per-s] [:W2 :rawcont :rt-per-s] [:W3 :rawcont :hops-per-s]]]
        (is (number-ok? (get (one-run (get-in results [w peer])) k)) (str (name w) " " (name peer) " " k))))
    (testing "the selective receive leaves the backlog alone"
      (doseq [peer [:tasklet :tasklet-vt :vthread]]
        (is (= 10000 (get (one-run (get-in results [:W7 peer])) :backlog-left)))))))

(deftest a-figure-is-its-median-and-range
  (is (= {:med 3 :lo 1 :hi 10 :n 5} (report/summary {:runs [{:x 3} {:x 1} {:x 10} {:x 2} {:x 4}]} :x)))
  (is (= "4.30M [2.50–4.50]" (report/cell :rate {:med 4.3e6 :lo 2.5e6 :hi 4.5e6})))
  (is (= "1,028 [990–1,200]" (report/cell :ns {:med 1028.0 :lo 990.0 :hi 1200.0}))))

(deftest a-wrong-count-is-an-error-not-a-figure
  (is (thrown-with-msg? clojure.lang.ExceptionInfo #"expected 10, got 9" (u/check! "pings" 10 9)))
  (is (nil? (u/check! "pings" 10 10))))

(deftest the-table-has-a-row-per-figure-and-a-column-per-peer
  (let [lines (str/split-lines (report/table @suite))]
    (is (= (+ 2 (count (filter #(local-workloads (first %)) report/metrics))) (count lines)))
    (doseq [line lines]
      (is (= (+ 2 (count (remove :scaling (:peers @suite)))) (count (str/split line #"\|"))) line))))

(deftest ^:stress remote-workloads-run
  (binding [u/*deadline-ms* 60000]
    (let [results (:results (try (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only #{:W5 :W6}})
                                 (finally (remote/stop!))))]
      (doseq [[w by-peer] results
              [peer figures] by-peer]
        (testing (str (name w) " " (name peer))
          (figures-ok w (one-run figures))))
      (is (number-ok? (:rt-per-s (one-run (get-in results [:W5 :tasklet])))) (pr-str (:W5 results)))
      (is (number-ok? (:msgs-per-s (one-run (get-in results [:W6 :tasklet])))) (pr-str (:W6 results))))))

(deftest a-pair-runs-in-a-jvm-of-its-own
  (binding [u/*deadline-ms* 60000]
    (let [suite (bench/run-suite {:scale 0.001 :runs 1 :warmup false :only #{:W2}
                                  :peers #{:tasklet :erlang}})
          result (get-in suite [:results :W2 :tasklet])]
      (figures-ok :W2 (one-run result))
      (is (number-ok? (:rt-per-s (one-run result))) (pr-str result))
      (testing "the figures came from another JVM"
        (is (number? (:jvm result)))
        (is (not= (.pid (java.lang.ProcessHandle/current)) (:jvm result))))
      (testing "Erlang's column runs in this JVM: it is an OS process of its own anyway"
        (is (nil? (get-in suite [:results :W2 :erlang :jvm])))))))

(deftest a-headline-jvm-has-the-defaults-only
  (let [flags (bench/jvm-flags (first (bench/peers)) {})]
    (is (= bench/default-flags flags))
    (is (not-any? #(re-find #"ParallelGC|-Xss|-Xm[sx]" %) flags)))
  (is (= (concat bench/default-flags bench/tuned-flags)
         (bench/jvm-flags (some #(when (= :tasklet-tuned (:id %)) %) (bench/peers)) {})))
  (is (some #{"-Dtasklet.workers=4"} (bench/jvm-flags (first (bench/peers)) {:workers 4}))))

(deftest options-parse
  (is (= {:scale 0.1 :runs 3 :warmup true :warmup-ms 1000 :quick true :only #{:W2 :W4 :BIG}}
         (bench/parse-args ["--quick" "--only" "w2,W4,big"])))
  (is (= {:scale 0.5 :runs 1 :warmup false :peers #{:async} :workers 4}
         (bench/parse-args ["--scale" "0.5" "--runs" "1" "--no-warmup" "--peers" "async" "--workers" "4"])))
  (is (= {:scale 1.0 :runs 5 :warmup true :shared-jvm true :child [:W3 :tasklet]}
         (bench/parse-args ["--shared-jvm" "--child" "W3,tasklet"]))))
