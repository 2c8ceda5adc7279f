
(function(){
  document.querySelectorAll('.chart').forEach(function(box){
    var src = box.querySelector('script[type="application/json"]');
    var svg = box.querySelector('svg');
    var tip = box.querySelector('.tip');
    if (!src || !svg || !tip) return;
    var d = JSON.parse(src.textContent);
    var cursor = svg.querySelector('.cursor');
    function hide(){ tip.style.display = 'none'; if (cursor) cursor.setAttribute('visibility', 'hidden'); }
    svg.addEventListener('mouseleave', hide);
    svg.addEventListener('mousemove', function(ev){
      var r = svg.getBoundingClientRect();
      var vx = (ev.clientX - r.left) * d.w / r.width;
      if (vx < d.x0 || vx > d.x1 || !d.t.length) { hide(); return; }
      var t = d.tmin + (vx - d.x0) / (d.x1 - d.x0) * (d.tmax - d.tmin);
      var lo = 0, hi = d.t.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (d.t[mid] < t) lo = mid + 1; else hi = mid; }
      if (lo > 0 && Math.abs(d.t[lo - 1] - t) < Math.abs(d.t[lo] - t)) lo--;
      var x = d.x0 + (d.t[lo] - d.tmin) / ((d.tmax - d.tmin) || 1) * (d.x1 - d.x0);
      if (cursor) { cursor.setAttribute('x1', x); cursor.setAttribute('x2', x); cursor.setAttribute('visibility', 'visible'); }
      var html = '<b>' + d.label[lo] + '</b>';
      d.series.forEach(function(s){
        html += '<br><i style="background:' + s.color + '"></i>' + s.name + ' ' + s.text[lo];
      });
      tip.innerHTML = html;
      tip.style.display = 'block';
      var px = x * r.width / d.w;
      var left = px + 14;
      if (left + tip.offsetWidth > r.width) left = px - tip.offsetWidth - 14;
      tip.style.left = left + 'px';
      tip.style.top = '8px';
    });
  });
})();
