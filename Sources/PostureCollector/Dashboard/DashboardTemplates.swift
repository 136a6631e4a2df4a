import Mustache

/// The dashboard's Mustache templates and style sheet, compiled into the binary (no files to install, no
/// JavaScript). `{{value}}` is HTML-escaped by Mustache; nothing is rendered unescaped.
enum DashboardTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in [
            ("header", header), ("footer", footer), ("sign-in", signIn), ("overview", overview),
            ("devices", devices), ("device", device), ("badge", badge),
        ] {
            try library.register(text, named: name)
        }
        return library
    }

    static let header = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Posture</title><link rel="stylesheet" href="/ui/style.css"></head>
        <body><header><a class="brand" href="/ui">Posture</a>
        {{#user}}<nav><a href="/ui">Overview</a><a href="/ui/devices">Devices</a>
        <a href="/ui/devices?verdict=noncompliant">Non-compliant</a></nav>
        <form class="who" method="post" action="/ui/sign-out"><input type="hidden" name="csrf" value="{{csrf}}">
        <span>{{user}}</span> <button type="submit">Sign out</button></form>{{/user}}
        </header><main>
        {{#flash}}<p class="flash" id="flash">{{flash}}</p>{{/flash}}
        {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}

        """

    static let footer = """
        </main><footer>Posture {{version}}</footer></body></html>

        """

    static let badge = """
        <span class="badge {{verdict}}">{{verdict}}{{#quarantined}} · quarantined{{/quarantined}}</span>
        """

    static let signIn = """
        {{> header}}
        <section class="card narrow"><h1>Sign in</h1>
        <form method="post" action="/ui/sign-in">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" required>
        <p class="hint">Scope <code>fleet:read</code> to look, <code>fleet:write</code> to act. Create one on the
        collector: <code>posture-collector apitoken create --name $USER --scope fleet:read --scope fleet:write</code></p>
        <button type="submit" id="sign-in">Sign in</button></form>
        {{#certificate}}<form method="post" action="/ui/sign-in"><input type="hidden" name="certificate" value="1">
        <button type="submit">Sign in with your client certificate</button></form>{{/certificate}}
        </section>
        {{> footer}}
        """

    static let overview = """
        {{> header}}
        <h1>Fleet</h1>
        <div class="cards">
        <a class="card stat" href="/ui/devices"><span class="n" id="count-devices">{{devices}}</span> active devices</a>
        <a class="card stat noncompliant" href="/ui/devices?verdict=noncompliant">
        <span class="n" id="count-noncompliant">{{noncompliant}}</span> non-compliant</a>
        <a class="card stat compliant" href="/ui/devices?verdict=compliant">
        <span class="n" id="count-compliant">{{compliant}}</span> compliant</a>
        <a class="card stat unknown" href="/ui/devices?verdict=unknown"><span class="n">{{unknown}}</span> unknown</a>
        <div class="card stat"><span class="n">{{quarantined}}</span> quarantined</div>
        <a class="card stat" href="/ui/devices?seenBefore=24h"><span class="n">{{silent}}</span> silent for 24 h</a>
        </div>
        {{#hasStages}}<section class="card" id="maturity"><h2>Maturity (CISA Zero Trust, devices)</h2>
        <table><thead><tr><th>Stage</th><th class="num">Devices</th><th></th></tr></thead><tbody>
        {{#stages}}<tr><td>{{label}}</td><td class="num" id="stage-{{stage}}">{{devices}}</td>
        <td><meter min="0" max="{{max}}" value="{{devices}}">{{devices}}</meter></td></tr>{{/stages}}
        </tbody></table></section>{{/hasStages}}
        <div class="columns">
        <section class="card"><h2>Failing rules</h2>
        {{#hasRules}}<table><thead><tr><th>Rule</th><th class="num">Devices</th><th></th></tr></thead><tbody>
        {{#rules}}<tr><td><a href="/ui/devices?failingRule={{query}}">{{key}}</a></td><td class="num">{{devices}}</td>
        <td><meter min="0" max="{{max}}" low="0" high="0" optimum="0" value="{{devices}}">{{devices}}</meter></td></tr>{{/rules}}
        </tbody></table>{{/hasRules}}{{^rules}}<p>No device fails a rule.</p>{{/rules}}</section>
        <section class="card"><h2>Operating systems</h2>
        <table><thead><tr><th>OS</th><th class="num">Devices</th></tr></thead><tbody>
        {{#systems}}<tr><td>{{key}}</td><td class="num">{{devices}}</td></tr>{{/systems}}
        </tbody></table></section>
        <section class="card"><h2>Verdict changes, 14 days</h2>
        <table><thead><tr><th>Day (UTC)</th><th class="num">→ non-compliant</th><th class="num">→ compliant</th></tr>
        </thead><tbody>
        {{#trend}}<tr><td class="nowrap">{{day}}</td><td class="num">{{becameNoncompliant}}
        <meter min="0" max="{{max}}" low="0" high="0" optimum="0" value="{{becameNoncompliant}}"></meter></td>
        <td class="num">{{becameCompliant}}</td></tr>{{/trend}}
        </tbody></table></section>
        </div>
        {{> footer}}
        """

    static let devices = """
        {{> header}}
        <h1>Devices</h1>
        <form class="filters card" method="get" action="/ui/devices">
        <label>Verdict <select name="verdict" id="filter-verdict">
        {{#verdicts}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/verdicts}}
        </select></label>
        <label>Failing rule <input name="failingRule" value="{{filter.failingRule}}"></label>
        <label>Label <input name="label" placeholder="k=v" value="{{filter.label}}"></label>
        <label>OS <input name="os" placeholder="debian" value="{{filter.os}}"></label>
        <label>Hostname <input name="hostname" id="filter-hostname" value="{{filter.hostname}}"></label>
        <button type="submit" id="apply-filters">Apply</button> <a href="/ui/devices">Clear</a>
        </form>
        <div class="scroll"><table class="devices" id="devices"><thead><tr><th>Hostname</th><th>Verdict</th>
        <th>Since</th><th>Last seen</th><th>Failing rules</th><th>OS</th></tr></thead><tbody>
        {{#devices}}<tr><td><a class="device-link" href="/ui/devices/{{id}}">{{hostname}}</a></td>
        <td>{{> badge}}</td><td>{{since}}</td><td>{{seen}}</td><td>{{failing}}</td><td>{{os}}</td></tr>{{/devices}}
        {{^devices}}<tr><td colspan="6">No device matches.</td></tr>{{/devices}}
        </tbody></table></div>
        {{#next}}<p><a class="next" href="{{next}}">Next page →</a></p>{{/next}}
        {{> footer}}
        """

    static let device = """
        {{> header}}
        <h1>{{hostname}} <span id="verdict">{{> badge}}</span></h1>
        <div class="columns">
        <section class="card"><h2>Device</h2><dl>
        <dt>ID</dt><dd><code>{{id}}</code></dd><dt>State</dt><dd>{{state}}</dd>
        <dt>OS</dt><dd>{{os}}</dd><dt>Labels</dt><dd>{{labels}}</dd>
        <dt>Device key</dt><dd id="key-protection">{{keyProtection}}</dd>
        {{#boot}}<dt>Boot</dt><dd id="measured-boot">{{boot}}</dd>{{/boot}}
        {{#maturity}}<dt>Maturity</dt><dd id="maturity-stage">{{stage}}</dd>{{/maturity}}
        <dt>Last report</dt><dd>{{seen}}</dd><dt>Verdict since</dt><dd>{{since}}</dd></dl>
        {{#quarantine}}<p class="error">Quarantined by {{by}}: {{reason}}</p>{{/quarantine}}
        {{#maturity}}{{#next}}<p>For <strong>{{next}}</strong> it needs:</p>
        <ul id="maturity-missing">{{#missing}}<li>{{.}}</li>{{/missing}}</ul>{{/next}}{{/maturity}}
        </section>
        <section class="card" id="why-card"><h2>Why</h2>
        <p id="risk">Risk score <strong>{{risk}}</strong>{{^riskReasons}} (nothing adds to it){{/riskReasons}}</p>
        {{#hasRiskReasons}}<ul id="risk-reasons">{{#riskReasons}}<li>{{.}}</li>{{/riskReasons}}</ul>{{/hasRiskReasons}}
        {{#hasOutcomes}}<table class="why" id="why"><thead><tr><th>Rule</th><th>State</th><th>Observed</th><th>Expected</th></tr></thead>
        <tbody>{{#outcomes}}<tr><td>{{rule}} <small>{{severity}}</small></td><td>{{state}}</td><td>{{observed}}</td>
        <td>{{expected}}</td></tr>{{/outcomes}}</tbody></table>{{/hasOutcomes}}
        {{^outcomes}}<p>Every rule passes.</p>{{/outcomes}}
        </section>
        {{#canWrite}}<section class="card"><h2>Act</h2>
        {{^quarantined}}<form method="post" action="/ui/devices/{{id}}/quarantine">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Reason <input name="reason" id="quarantine-reason" required></label>
        <button type="submit" id="quarantine" class="danger">Quarantine</button></form>{{/quarantined}}
        {{#quarantined}}<form method="post" action="/ui/devices/{{id}}/release">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Reason <input name="reason" id="release-reason" required></label>
        <button type="submit" id="release">Release</button></form>{{/quarantined}}
        {{#hasWaivable}}<form method="post" action="/ui/devices/{{id}}/waiver">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Waive <select name="rule">{{#waivable}}<option>{{.}}</option>{{/waivable}}</select></label>
        <label>For <input name="duration" value="7d" size="5"></label>
        <label>Reason <input name="reason" required></label>
        <button type="submit" id="waive">Grant waiver</button></form>{{/hasWaivable}}
        </section>{{/canWrite}}
        </div>
        <section class="card" id="access"><h2>Just-in-time access</h2><div class="scroll"><table><thead><tr><th>ID</th>
        <th>Kind</th><th>User</th><th>Grant</th><th>State</th><th>Until</th><th>What</th><th>Why</th></tr></thead><tbody>
        {{#grants}}<tr><td>{{id}}</td><td>{{kind}}</td><td>{{user}}</td><td>{{grant}}</td><td>{{status}}</td>
        <td class="nowrap">{{until}}</td><td>{{what}}</td><td>{{reason}}
        {{#pending}}{{#canWrite}}<form method="post" action="/ui/devices/{{deviceID}}/approve" class="decide">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="grant" value="{{id}}">
        <label>Reason <input name="reason" required></label>
        <button type="submit" id="approve-{{id}}">Approve</button>
        <button type="submit" formaction="/ui/devices/{{deviceID}}/deny" id="deny-{{id}}" class="danger">Deny</button>
        </form>{{/canWrite}}{{/pending}}</td></tr>{{/grants}}
        {{^grants}}<tr><td colspan="8">No SSH certificates or sudo grants.</td></tr>{{/grants}}
        </tbody></table></div></section>
        <section class="card"><h2>Verdict timeline</h2><div class="scroll"><table id="timeline"><thead><tr><th>When</th>
        <th>Change</th><th>Cause</th></tr></thead><tbody>
        {{#changes}}<tr><td>{{at}}</td><td>{{previous}} → {{status}}</td><td>{{cause}}</td></tr>{{/changes}}
        </tbody></table></div></section>
        <section class="card"><h2>Events</h2><div class="scroll"><table><thead><tr><th>When</th><th>Code</th>
        <th>Message</th></tr></thead><tbody>
        {{#events}}<tr><td>{{at}}</td><td>{{code}}</td><td>{{message}}</td></tr>{{/events}}
        {{^events}}<tr><td colspan="3">No enforcement reports or refused attestations.</td></tr>{{/events}}
        </tbody></table></div></section>
        <section class="card"><h2>Facts</h2><pre>{{facts}}</pre></section>
        {{> footer}}
        """

    static let style = """
        :root { --bad: #b42318; --good: #067647; --unknown: #8a6100; --ink: #1d2433; --line: #d9dde5; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--ink); background: #f5f6f8; }
        header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1rem;
          background: var(--ink); color: #fff; }
        header a { color: #fff; text-decoration: none; margin-right: 1rem; }
        .brand { font-weight: 700; }
        .who { margin-left: auto; }
        main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
        h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
        .narrow { max-width: 32rem; margin: 2rem auto; }
        .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 1rem; }
        .stat { color: inherit; text-decoration: none; }
        .stat .n { display: block; font-size: 2rem; font-weight: 700; }
        .stat.noncompliant .n { color: var(--bad); } .stat.compliant .n { color: var(--good); }
        .stat.unknown .n { color: var(--unknown); }
        .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(22rem, 100%), 1fr)); gap: 1rem; }
        /* A grid item is as wide as its content unless told otherwise: long observed values wrap instead. */
        .columns > .card { min-width: 0; }
        table.why { table-layout: fixed; }
        table.why th:nth-child(1) { width: 28%; } table.why th:nth-child(2) { width: 4.75rem; }
        table.why th { font-size: .85rem; } table.why td { overflow-wrap: anywhere; }
        table { width: 100%; border-collapse: collapse; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .num { text-align: right; }
        .nowrap { white-space: nowrap; }
        .scroll { overflow-x: auto; }
        .badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem;
          background: #eef0f4; }
        .badge.noncompliant { background: #fee4e2; color: var(--bad); }
        .badge.compliant { background: #dcfae6; color: var(--good); }
        .badge.unknown { background: #fef0c7; color: var(--unknown); }
        .filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: end; }
        label { display: inline-flex; flex-direction: column; font-size: .85rem; gap: .2rem; }
        input, select, button { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 6px; }
        button { background: var(--ink); color: #fff; cursor: pointer; }
        button.danger { background: var(--bad); }
        form { margin: 0 0 .8rem; }
        .flash { background: #dcfae6; padding: .6rem 1rem; border-radius: 6px; }
        .error { background: #fee4e2; padding: .6rem 1rem; border-radius: 6px; }
        .hint { font-size: .85rem; color: #475467; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
        dt { color: #475467; } dd { margin: 0; overflow-wrap: anywhere; }
        pre { overflow-x: auto; font-size: .8rem; }
        footer { text-align: center; color: #667085; font-size: .8rem; padding: 1rem; }
        @media (max-width: 600px) {
          main { padding: .5rem; } .columns { grid-template-columns: 1fr; }
          .devices th:nth-child(6), .devices td:nth-child(6), .devices th:nth-child(3), .devices td:nth-child(3) { display: none; }
        }

        """
}
