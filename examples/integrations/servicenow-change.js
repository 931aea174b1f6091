/*
 * ServiceNow -> loophub: every saved change request is a loophub ticket event, posted to the
 * hub's POST /v1/events, so `loophub audit` can show which change approved which deploy.
 *
 * Install (System Definition > Business Rules > New):
 *   Table: Change Request [change_request]; Advanced: on; When: after (or async, so a slow hub
 *   never delays the user's save); Insert and Update ticked; paste this whole file as the script.
 * System properties (System Properties > New), readable by admin only:
 *   loophub.url    the hub's base URL, e.g. https://loophub.internal:7780 (no path)
 *   loophub.token  the hub's HTTP write token (--http-token-file); leave it empty when the hub
 *                  runs without one
 * The instance must reach the hub (a MID server or a firewall opening); outbound HTTP is logged
 * under System Logs > Outbound HTTP Requests.
 *
 * What is sent (loophub JSON, kind ticket; README.md Formats, docs/formats.md):
 *   ticket_id   current.number (CHG0030001)
 *   type        change
 *   state       closed when the change is Closed or Canceled, else rejected / approved from its
 *               approval, else created on the first save, else updated
 *   summary     short_description; url: the change's form when the instance URL is known
 *   links       u_deploy_id: the deploy id(s) the change approves, comma-separated. Add that
 *               string field to change_request (or rename it below) and have the pipeline that
 *               deploys put its loophub deploy id there (or put the change number in the deploy's
 *               change_ticket: either links the two).
 *   service     u_service if set, else the configuration item's display name
 *   environment u_environment if set (tickets need none)
 *   actor       sys_updated_by
 *   time        sys_updated_on (UTC), else the time of the rule
 *   id          snow-<number>-<sys_mod_count>: one per update of the record, so a re-sent update
 *               is a duplicate and a new one is a new event
 * Adapt the field names (u_deploy_id, u_service, u_environment) and the state values to your
 * instance: the numbers below are those of the default change model (3 Closed, 4 Canceled).
 *
 * loophubTicketEvent() builds the event from a GlideRecord-like object (getValue and
 * getDisplayValue) and nothing else, so it runs outside ServiceNow too (tests run it under Node);
 * the ServiceNow wiring is at the end. ES5 only: the instance's script engine may be Rhino.
 */

/* "2026-11-20 10:00:00" (GlideDateTime's UTC value) -> "2026-11-20T10:00:00Z"; else null. */
function loophubGlideTimeToIso(v) {
    if (!v)
        return null;
    var m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(String(v));
    return m ? m[1] + 'T' + m[2] + 'Z' : null;
}

/*
 * The loophub ticket event for a change_request record. current: the record (getValue,
 * getDisplayValue); nowIso: an RFC 3339 time used when the record has no sys_updated_on;
 * instanceUrl (optional): https://<instance>.service-now.com, for the ticket's url.
 */
function loophubTicketEvent(current, nowIso, instanceUrl) {
    function val(field) {
        var v = current.getValue(field);
        return v === null || v === undefined ? '' : String(v);
    }
    function shown(field) {
        var v = current.getDisplayValue(field);
        return v === null || v === undefined ? '' : String(v);
    }

    var number = val('number');
    var modCount = val('sys_mod_count') || '0';
    var approval = val('approval');
    var stateNum = val('state');
    var state;
    if (stateNum === '3' || stateNum === '4')
        state = 'closed';
    else if (approval === 'rejected')
        state = 'rejected';
    else if (approval === 'approved')
        state = 'approved';
    else if (modCount === '0')
        state = 'created';
    else
        state = 'updated';

    var ticket = {ticket_id: number, type: 'change', state: state};
    var summary = val('short_description');
    if (summary)
        ticket.summary = summary;
    var sysId = val('sys_id');
    if (instanceUrl && sysId)
        ticket.url = instanceUrl.replace(/\/+$/, '') + '/change_request.do?sys_id=' + sysId;
    var links = [];
    var parts = val('u_deploy_id').split(',');
    for (var i = 0; i < parts.length; i++) {
        var p = parts[i].replace(/^\s+|\s+$/g, '');
        if (p)
            links.push(p);
    }
    if (links.length)
        ticket.links = links;

    var ev = {
        id: 'snow-' + number + '-' + modCount,
        kind: 'ticket',
        time: loophubGlideTimeToIso(val('sys_updated_on')) || nowIso,
        source: 'servicenow/change_request'
    };
    var service = val('u_service') || shown('cmdb_ci');
    if (service)
        ev.service = service;
    var environment = val('u_environment');
    if (environment)
        ev.environment = environment;
    var actor = val('sys_updated_by');
    if (actor)
        ev.actor = actor;
    var labels = {};
    if (approval)
        labels.servicenow_approval = approval;
    var stateName = shown('state');
    if (stateName)
        labels.servicenow_state = stateName;
    ev.labels = labels;
    ev.ticket = ticket;
    return ev;
}

if (typeof module !== 'undefined' && module.exports)
    module.exports = {loophubTicketEvent: loophubTicketEvent};

/* --- ServiceNow wiring: runs only inside the instance ------------------------------------- */
if (typeof sn_ws !== 'undefined' && typeof current !== 'undefined') {
    (function loophubSend(record) {
        var base = gs.getProperty('loophub.url', '');
        if (!base) {
            gs.warn('loophub: system property loophub.url is not set; change ' +
                    record.getValue('number') + ' not sent');
            return;
        }
        var token = gs.getProperty('loophub.token', '');
        var now = loophubGlideTimeToIso(new GlideDateTime().getValue());
        var ev = loophubTicketEvent(record, now, gs.getProperty('glide.servlet.uri', ''));
        try {
            var req = new sn_ws.RESTMessageV2();
            req.setEndpoint(base.replace(/\/+$/, '') + '/v1/events');
            req.setHttpMethod('post');
            req.setRequestHeader('Content-Type', 'application/json');
            if (token)
                req.setRequestHeader('Authorization', 'Bearer ' + token);
            req.setHttpTimeout(5000);
            req.setRequestBody(JSON.stringify(ev));
            var resp = req.execute();
            var code = resp.getStatusCode();
            if (code !== 202)
                gs.warn('loophub: ' + ev.id + ' answered ' + code + ': ' + resp.getBody());
        } catch (e) {
            gs.warn('loophub: cannot send ' + ev.id + ': ' + e);
        }
    })(current);
}
