(ns tasklet.doc-test
  "The pages in doc/ run as written. doc/testing.md's worked example: its
  code block is evaluated in a fresh namespace, each `;; =>` result is
  checked, and the report `check-interleavings` prints is the one the page
  shows. Every other page: its blocks fenced ```clojure runnable, in order,
  as one REPL session checked by tasklet.doc-examples (shown values, no
  decoy message taken). Links between the pages and to the repository's
  files resolve, and no page cites a file outside the repository."
  (:require [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.doc-examples :as ex]
            [tasklet.test :as tt]))

(set! *warn-on-reflection* true)

(def ^:private page "doc/testing.md")

(defn- fenced
  "The bodies of the page's fenced blocks opened by ```lang (\"\" for bare
  ones), in order. Read line by line, so a closing fence never opens one."
  [text lang]
  (loop [[line & more :as lines] (str/split-lines text), open nil, body [], out []]
    (cond
      (empty? lines) out
      (and (nil? open) (str/starts-with? line "```")) (recur more (subs line 3) [] out)
      (and open (= "```" (str/trim line)))
      (recur more nil [] (if (= open lang) (conj out (str (str/join "\n" body) "\n")) out))
      open (recur more open (conj body line) out)
      :else (recur more nil body out))))

(defn- forms-with-results
  "[form expected-string-or-nil] for each form of block, the expectation being
  a `;; =>` comment on the line after the form."
  [block]
  (let [rdr (clojure.lang.LineNumberingPushbackReader. (java.io.StringReader. block))
        lines (str/split-lines block)]
    (loop [out []]
      (let [form (read {:eof ::eof} rdr)]
        (if (= ::eof form)
          out
          (let [next-line (nth lines (.getLineNumber rdr) "")]
            (recur (conj out [form (second (re-find #"^;; =>\s*(.*)$" next-line))]))))))))

(deftest worked-example-runs-as-written
  (if-not (tt/available?)
    (is true "the deterministic scheduler needs the continuation strand's --add-exports")
    (let [text (slurp page)
          [code examples check] (fenced text "clojure")
          printed (first (filter #(str/starts-with? % "tasklet.test: property failed") (fenced text "")))]
      (is (and code examples check printed) "the page's blocks were found")
      @(future
         (binding [*ns* *ns*]
           (doseq [form (read-string (str "[" code "]"))] (eval form))   ; defines example.registry
           (doseq [[form expected] (forms-with-results (str examples check))]
             (testing (pr-str form)
               (let [out (java.io.StringWriter.)
                     v (binding [*out* out] (eval form))]
                 (when expected (is (= (read-string expected) v)))
                 (when (= 'tt/check-interleavings (first form))
                   (is (= (str/trim printed) (str/trim (str out)))
                       "the printed report is the page's, line for line")))))))
      (remove-ns 'example.registry))))

(defn- pages
  "README.md and every Markdown file under doc/, sorted."
  []
  (cons "README.md"
        (sort (for [^java.io.File f (file-seq (io/file "doc"))
                    :when (and (.isFile f) (str/ends-with? (.getName f) ".md"))]
                (.getPath f)))))

;; Each page's runnable blocks give what the page shows.
(deftest runnable-blocks-run-as-written
  (let [runnable (for [p (pages)
                       :when (not= "README.md" p)   ; readme_test runs all of the README
                       :let [blocks (filter ex/runnable-block? (ex/fenced-blocks (slurp p)))]
                       :when (seq blocks)]
                   [p blocks])]
    (is (some #(= "doc/reference.md" (first %)) runnable) "the reference has runnable examples")
    (doseq [[p blocks] runnable]
      (is (= [] (ex/describe p (ex/run-blocks blocks 60000))) (str p " runs as written")))))

(defn- links
  "[target line] for each Markdown link and each `path` in backquotes that
  names a repository file (has a / and an extension), outside code blocks."
  [text]
  (let [code-free (str/replace text #"(?s)```.*?```" "")]
    (concat (map second (re-seq #"\]\(([^)#\s]+)(?:#[^)]*)?\)" code-free))
            (map second (re-seq #"`((?:\.\./)*[\w.-]+/[\w./-]+\.(?:md|clj|java|edn|sh|erl))`" code-free)))))

;; Every relative link and cited file of README.md and doc/ is in the repository.
(deftest links-stay-in-the-repository
  (doseq [p (pages)
          target (links (slurp p))
          :when (not (re-find #"^[a-z]+:" target))]          ; http:, https:, mailto:
    (let [root (.getCanonicalPath (io/file "."))
          in-repo? (fn [^java.io.File f] (and (.exists f) (str/starts-with? (.getCanonicalPath f) root)))]
      ;; a link is relative to its page; a cited `path` may also be relative to the root
      (is (or (in-repo? (io/file (.getParentFile (.getAbsoluteFile (io/file p))) target))
              (in-repo? (io/file target)))
          (str p " cites " target ", which is not in the repository")))))

;; No page, docstring or test cites the design notes this repository does not ship.
(deftest no-citations-outside-the-repository
  (doseq [^java.io.File f (concat (map io/file (pages))
                                  (file-seq (io/file "src-clj")) (file-seq (io/file "src-java"))
                                  (file-seq (io/file "test")))
          :when (and (.isFile f) (re-find #"\.(md|clj|java)$" (.getName f))
                     (not= "doc_test.clj" (.getName f)))
          :let [text (slurp f)]]
    (is (not (re-find #"(?<![\w/])(API|DESIGN|STYLE)\.md|\.\./shared/" text))
        (str f " cites API.md, DESIGN.md, STYLE.md or ../shared/, which users do not get;"
             " cite doc/reference.md or doc/design.md"))))

(defn- section
  "The text of page from the heading that starts with heading to the next
  heading of the same level."
  [text heading]
  (let [level (re-find #"^#+ " heading)
        from (str/index-of text (str "\n" heading))
        to (when from (str/index-of text (str "\n" level) (inc from)))]
    (when from (subs text from (or to (count text))))))

(defn- project-jvm-opts
  "project.clj's :jvm-opts as the flags a user types: an option that takes an
  argument joined to it with a space."
  []
  (let [[_ _ _ & kvs] (read-string (slurp "project.clj"))
        opts (:jvm-opts (apply hash-map kvs))]
    (loop [[o & more] opts, out []]
      (cond (nil? o) out
            (= "--add-exports" o) (recur (rest more) (conj out (str o " " (first more))))
            :else (recur more (conj out o))))))

;; Every JVM option the project's own JVMs use is in the README's JVM options
;; section and in the reference's, each with its reason.
(deftest jvm-options-in-one-place
  (let [opts (project-jvm-opts)]
    (is (some #(str/starts-with? % "--add-exports") opts) "project.clj's :jvm-opts were read")
    (doseq [[page heading] [["README.md" "## JVM options"] ["doc/reference.md" "## JVM options"]]
            :let [text (section (slurp page) heading)]]
      (is text (str page " has a section " heading))
      (doseq [o opts]
        (is (and text (str/includes? text (str "| `" o))) (str page " " heading " lists " o " with why"))))))

(defn- toolkit-rows
  "[part namespace marker status] for each row of the reference's §7 status table."
  []
  (let [text (section (slurp "doc/reference.md") "## 7. ")]
    (for [[_ part nspace marker status]
          (re-seq #"(?m)^\| ([^|]+?) \| `([\w.]+)` \| `([^`]+)` \| ([^|]+?) \|$" text)]
      [part (symbol nspace) marker status])))

(defn- present?
  "Whether the code has marker: a qualified symbol that resolves, or a
  keyword written in the namespace's source file."
  [nspace marker]
  (if (str/starts-with? marker ":")
    (let [f (io/file "src-clj" (str (str/replace (munge (name nspace)) "." "/") ".clj"))]
      (boolean (and (.exists f) (str/includes? (slurp f) marker))))
    (boolean (try (requiring-resolve (symbol marker)) (catch java.io.FileNotFoundException _ nil)))))

;; The reference's §7 says honestly which parts of the toolkit the code has.
(deftest toolkit-status-is-the-code's
  (let [rows (toolkit-rows)]
    (is (<= 9 (count rows)) "the status table was read")
    (doseq [[part nspace marker status] rows
            :let [has? (present? nspace marker)]]
      (is (= (if has? "implemented" "not implemented yet") status)
          (str "doc/reference.md §7 says " part " is \"" status "\", but the code "
               (if has? "has " "lacks ") marker ": correct the status column")))))
