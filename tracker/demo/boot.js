// Demo-only loader: puts the heatstore tracker tag on the page, pointed at the
// server named by the page's query (?server=http://127.0.0.1:PORT&site=NAME),
// or by window.HEATSTORE_DEMO = {server, site} set inline before this script.
// Every other query parameter becomes a data- attribute of the tag, e.g.
// ?cookieless=true -> data-cookieless="true". On a real site the tag is simply
//   <script src="SERVER/heatstore.js" data-site="NAME" data-endpoint="SERVER/collect" async></script>
(function () {
  var cfg = window.HEATSTORE_DEMO || {};
  var q = new URLSearchParams(location.search);
  var server = q.get('server') || cfg.server || sessionStorage.getItem('demo-server') || location.origin;
  var site = q.get('site') || cfg.site || sessionStorage.getItem('demo-site') || 'demo.test';
  // Remember them for links inside the demo (plain hrefs carry no query).
  sessionStorage.setItem('demo-server', server);
  sessionStorage.setItem('demo-site', site);
  var s = document.createElement('script');
  s.src = server.replace(/\/$/, '') + '/' + (q.get('min') === '1' ? 'heatstore.min.js' : 'heatstore.js');
  s.async = true;
  s.setAttribute('data-site', site);
  s.setAttribute('data-endpoint', server.replace(/\/$/, '') + '/collect');
  var extra = cfg.attrs || {};
  q.forEach(function (v, k) {
    if (k !== 'server' && k !== 'site' && k !== 'min' && /^[a-z-]+$/.test(k)) extra[k] = v;
  });
  Object.keys(extra).forEach(function (k) {
    s.setAttribute('data-' + k, extra[k]);
  });
  document.head.appendChild(s);
})();
