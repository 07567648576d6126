(ns tasklet.doc-examples
  "Runs the Clojure code blocks of a Markdown page as a user pastes them into
  a REPL: in order, in one fresh namespace, on one fresh thread (so the page's
  pid, mailbox and trap-exit flag are its own), and checks what the page says
  each form gives. Used by readme_test (every ```clojure block of README.md)
  and doc_test (the blocks of doc/*.md whose fence reads ```clojure runnable).

  What a page may show, and how it is checked:
  - a form followed, at the end of its last line, by `;=> value`: the form's
    value equals value, read with the #tasklet/pid and #tasklet/ref readers
    (anything after the value is prose; a value containing \"...\" is not
    checked);
  - a REPL transcript (lines starting with `user=> `): the printed lines
    after a form are its value, or `Execution error (Class) ...` and the
    message on the next line, which the root cause of the form's exception
    must have (other lines, such as a crash report, are not checked).
  Pids in shown values are placeholders: the page's pids and the real ones
  must correspond one to one over the whole page (the same shown pid is the
  same real pid each time, two different shown pids are two different real
  pids, and a shown node other than :nonode is the real pid's node).

  The mailbox check, for patterns that bind what they were meant to match:
  before the first form the page's thread sends itself decoys that no correct
  example takes (an EXIT and a DOWN from a pid the page never sees, a reply
  tagged with a ref it never sees); they stay the oldest messages of its
  mailbox, and after each form they must all still be there. A receive
  pattern whose symbol names a var instead of a local binds anything in that
  place, takes a decoy and is reported (the README's tour once taught
  [:EXIT p reason] with p a def). So an example must not take any message
  whatever (a catch-all pattern, `flush`) from the page's own mailbox."
  (:require [clojure.string :as str]
            [tasklet.core :as t])
  (:import (clojure.lang LineNumberingPushbackReader)
           (java.io StringReader)
           (tasklet.kernel Pid)))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Pages, blocks, steps

(defn fenced-blocks
  "The fenced blocks of Markdown text, in order: {:info \"clojure runnable\"
  :line first-body-line :body text}. Read line by line, so a closing fence
  never opens one; only fences at the start of a line count."
  [text]
  (loop [[line & more :as lines] (str/split-lines text), n 1, open nil, out []]
    (cond
      (empty? lines) out
      (and (nil? open) (str/starts-with? line "```"))
      (recur more (inc n) {:info (str/trim (subs line 3)) :line (inc n) :body []} out)
      (and open (= "```" (str/trim line)))
      (recur more (inc n) nil (conj out (update open :body #(str (str/join "\n" %) "\n"))))
      open (recur more (inc n) (update open :body conj line) out)
      :else (recur more (inc n) nil out))))

(defn- info-words [block] (str/split (:info block) #"\s+"))

(defn clojure-block? [block] (= "clojure" (first (info-words block))))

(defn runnable-block? [block]
  (and (clojure-block? block) (some #{"runnable"} (info-words block))))

(def ^:private readers {'tasklet/pid t/read-pid 'tasklet/ref t/read-ref})

(defn- read-all
  "[form end-line] for each form of s, end-line being the 1-based line of s
  on which the form ends."
  [s]
  (let [rdr (LineNumberingPushbackReader. (StringReader. s))]
    (binding [*read-eval* false *data-readers* readers]
      (loop [out []]
        (let [form (read {:eof ::eof} rdr)]
          (if (= ::eof form) out (recur (conj out [form (.getLineNumber rdr)]))))))))

(defn- read-shown [s]
  (binding [*read-eval* false *data-readers* readers]
    (read-string s)))

(defn- code-steps
  "Steps of a plain code block: each form, with the `;=>` of its last line."
  [{:keys [body line]}]
  (let [lines (str/split-lines body)]
    (for [[form end] (read-all body)
          :let [shown (second (re-find #";\s*=>\s*(.*)$" (nth lines (dec end) "")))]]
      (cond-> {:form form :line (+ line (dec end)) :source (pr-str form)}
        (and shown (not (str/includes? shown "...")))
        (assoc :expect {:value (read-shown shown) :shown shown})))))

(defn- transcript-expectation [output]
  (let [lines (remove str/blank? (str/split-lines output))]
    (when-let [first-line (first lines)]
      (if-let [[_ cls] (re-find #"^Execution error \(([\w.$]+)\)" first-line)]
        {:throws cls :message (some-> (second lines) str/trim) :shown first-line}
        {:value (read-shown output) :shown (str/trim first-line)}))))

(defn- transcript-steps
  "Steps of a REPL transcript: the form after each `user=> ` and what the
  lines up to the next prompt show."
  [{:keys [body line]}]
  (let [lines (vec (str/split-lines body))
        starts (keep-indexed (fn [i l] (when (str/starts-with? l "user=> ") i)) lines)]
    (for [[from to] (map vector starts (concat (rest starts) [(count lines)]))
          :let [chunk (str (subs (lines from) (count "user=> ")) "\n"
                           (str/join "\n" (subvec lines (inc from) to)))
                rdr (LineNumberingPushbackReader. (StringReader. chunk))
                form (binding [*read-eval* false *data-readers* readers] (read rdr))
                output (slurp rdr)]]
      (cond-> {:form form :line (+ line from) :source (pr-str form)}
        (transcript-expectation output) (assoc :expect (transcript-expectation output))))))

(defn block-steps [block]
  (if (re-find #"(?m)^user=> " (:body block))
    (transcript-steps block)
    (code-steps block)))

;; ---------------------------------------------------------------------------
;; Comparing shown values, pids as placeholders

(defn- match-pid [pids ^Pid shown actual]
  (and (instance? Pid actual)
       (or (= "nonode" (.-node shown)) (= (.-node shown) (.-node ^Pid actual)))
       (let [{:keys [fwd back]} @pids]
         (cond
           (contains? fwd shown) (= (fwd shown) actual)
           (contains? back actual) false
           :else (do (swap! pids #(-> % (assoc-in [:fwd shown] actual) (assoc-in [:back actual] shown)))
                     true)))))

(defn- shown-matches?
  "Whether actual is what shown shows, pids matched through the page's
  correspondence pids (an atom {:fwd {shown real} :back {real shown}})."
  [pids shown actual]
  (cond
    (instance? Pid shown) (match-pid pids shown actual)
    (map? shown) (and (map? actual) (= (set (keys shown)) (set (keys actual)))
                      (every? (fn [[k v]] (shown-matches? pids v (get actual k))) shown))
    (and (sequential? shown) (sequential? actual))
    (and (= (count shown) (count actual)) (every? true? (map #(shown-matches? pids %1 %2) shown actual)))
    :else (= shown actual)))

(defn- root-cause ^Throwable [^Throwable e]
  (if-let [c (.getCause e)] (recur c) e))

(defn- check-outcome [pids {:keys [expect]} {:keys [value thrown]}]
  (cond
    (and thrown (:throws expect))
    (let [c (root-cause thrown)]
      (when-not (and (= (:throws expect) (.getSimpleName (class c)))
                     (or (nil? (:message expect)) (= (:message expect) (.getMessage c))))
        (str "shows " (:shown expect) " " (:message expect) ", but threw " (class c) ": " (.getMessage c))))
    thrown (str "threw " (class (root-cause thrown)) ": " (.getMessage (root-cause thrown)))
    (:throws expect) (str "shows " (:shown expect) ", but returned " (pr-str value))
    (contains? expect :value)
    (when-not (shown-matches? pids (:value expect) value)
      (str "shows " (:shown expect) ", but gave " (pr-str value)))))

;; ---------------------------------------------------------------------------
;; Running

(defn- waiting-messages
  "The messages in the calling thread's mailbox, oldest first (not taken)."
  []
  (set (.snapshot (.mailbox (t/current-tasklet)))))

(defn- run-steps [steps]
  (let [pids (atom {:fwd {} :back {}})
        stranger (t/spawn (fn []))
        decoys [[:EXIT stranger ::decoy]
                [:DOWN (t/make-ref) :process stranger ::decoy]
                [:reply (t/make-ref) ::decoy]]]
    ;; sent once and left in place, so they stay older than anything a form
    ;; waits for: a pattern that takes any EXIT meets a decoy first
    (doseq [d decoys] (t/! (t/self) d))
    (loop [[step & more] steps, me (t/self), problems []]
      (if-not step
        problems
        (let [outcome (try {:value (eval (:form step))} (catch Throwable e {:thrown e}))
              problem (check-outcome pids step outcome)
              ;; a form that gave the thread a new pid (node/start!) left the decoys in the old mailbox
              now (t/self)
              taken (if (= me now) (remove (waiting-messages) decoys) [])
              problems (cond-> problems
                         problem (conj (assoc step :problem problem))
                         (seq taken)
                         (conj (assoc step :problem
                                      (str "took " (pr-str (first taken)) ", a message no example should"
                                           " match: a pattern symbol that names a var (not a local)"
                                           " binds anything; bind the value in a let"))))]
          (doseq [d (if (= me now) taken decoys)] (t/! now d))
          (if (and (:thrown outcome) (not (:throws (:expect step))))
            problems                                 ; later forms build on this one
            (recur more now problems)))))))

(defn run-blocks
  "Evaluates the steps of blocks in order, in a fresh namespace on a fresh
  thread whose pid ends afterwards (so what the page linked to it is told),
  and returns the problems found, each a step with its :line and :problem
  (empty when the page is right). Throws when the page does not finish within
  timeout-ms."
  [blocks timeout-ms]
  (let [steps (vec (mapcat block-steps blocks))
        ns-sym (gensym "doc-page")
        result (promise)
        th (Thread. ^Runnable
                    (fn []
                      (deliver result
                               (try
                                 (binding [*ns* (create-ns ns-sym)]
                                   (refer-clojure)
                                   (run-steps steps))
                                 (catch Throwable e [{:line 0 :source "" :problem (str "the run failed: " e)}])
                                 (finally (tasklet.kernel.Node/forgetThread)))))
                    (str "doc-page-" ns-sym))]
    (.setDaemon th true)
    (.start th)
    (try
      (let [r (deref result timeout-ms ::timeout)]
        (when (= ::timeout r)
          (throw (ex-info (str "the page did not finish within " timeout-ms " ms") {:steps (count steps)})))
        r)
      (finally (remove-ns ns-sym)))))

(defn describe
  "The problems as page:line: form -- problem strings, for a failure report."
  [page problems]
  (vec (for [{:keys [line source problem]} problems]
         (str page ":" line ": " (subs source 0 (min 80 (count source))) " -- " problem))))
