/* mindquiz.app -- the only script: quiz stepper, share, payment start. No framework. */
(function () {
  'use strict';
  var d = document, w = window;
  d.documentElement.classList.add('js');
  function $(s, r) { return (r || d).querySelector(s); }
  function $$(s, r) { return Array.prototype.slice.call((r || d).querySelectorAll(s)); }
  function say(el, text) { if (el) el.textContent = text; }
  function track(name, params) { if (typeof w.gtag === 'function') w.gtag('event', name, params || {}); }

  /* Quiz: one question at a time; without this script the form still works. */
  var form = $('.quiz-form');
  if (form) {
    var qs = $$('.question', form), cur = 0;
    var bar = $('.progress', form), txt = $('.progress-text', form), fill = $('.progress-fill', form);
    var prev = $('.quiz-prev', form);
    var answered = function (i) { return !!$('input:checked', qs[i]); };
    var show = function (i) {
      cur = i;
      qs.forEach(function (q, k) { q.classList.toggle('current', k === i); });
      say(txt, (i + 1) + ' / ' + qs.length);
      fill.style.width = Math.round((i + (answered(i) ? 1 : 0)) / qs.length * 100) + '%';
      prev.hidden = i === 0;
      form.classList.toggle('stepping', !(i === qs.length - 1 && answered(i)));
    };
    bar.hidden = false;
    form.addEventListener('change', function (e) {
      var i = qs.indexOf(e.target.closest('.question'));
      if (i < 0) return;
      if (i < qs.length - 1) setTimeout(function () { show(i + 1); }, 160); else show(i);
    });
    prev.addEventListener('click', function () { if (cur > 0) show(cur - 1); });
    form.addEventListener('submit', function (e) {
      for (var i = 0; i < qs.length; i++) if (!answered(i)) { e.preventDefault(); show(i); return; }
      track('quiz_complete', { quiz: form.getAttribute('action') });
    });
    show(0);
  }

  /* Share: copy the link, or the phone's share sheet (KakaoTalk is in it). */
  var shareStatus = $('.share-status');
  function copy(text, okText) {
    var done = function () { say(shareStatus, okText); };
    var fallback = function () {
      var input = $('.share-url');
      try { input.focus(); input.select(); if (d.execCommand('copy')) { done(); return; } } catch (e) { /* below */ }
      say(shareStatus, '링크를 길게 눌러 복사해 주세요.');
    };
    if (navigator.clipboard && w.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  }
  $$('[data-copy]').forEach(function (b) {
    b.addEventListener('click', function () {
      copy(b.getAttribute('data-copy'), '링크를 복사했어요. 친구에게 붙여 넣어 보내 보세요.');
      track('share', { method: 'copy' });
    });
  });
  $$('[data-share="kakao"]').forEach(function (a) {
    a.addEventListener('click', function (e) {
      e.preventDefault();
      track('share', { method: 'kakaotalk' });
      var data = { title: a.getAttribute('data-title'), text: a.getAttribute('data-text'), url: a.href };
      if (navigator.share) navigator.share(data).catch(function () { /* closed by the user */ });
      else copy(a.href, '링크를 복사했어요. 카카오톡 대화방에 붙여 넣으면 결과 카드가 함께 보여요.');
    });
  });

  /* Premium: start a payment, then go to the gateway's page. */
  var premium = $('#premium'), payStatus = $('.pay-status');
  var buttons = $$('[data-pay]');
  function busy(on) { buttons.forEach(function (b) { b.disabled = on; }); }
  function paused() {
    var box = $('.pay-buttons');
    var p = d.createElement('p');
    p.className = 'notice notice-info';
    p.setAttribute('data-notice', 'payments-paused');
    p.textContent = '지금은 결제를 잠시 쉬고 있어요. 결과 보기와 공유는 그대로 이용할 수 있으니, 리포트는 조금 뒤에 다시 찾아 주세요.';
    if (box) box.replaceWith(p);
    say(payStatus, '');
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      var provider = b.getAttribute('data-pay');
      busy(true);
      say(payStatus, '결제 페이지로 이동하고 있어요…');
      fetch('/api/pay/ready', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        body: JSON.stringify({ provider: provider, resultId: premium.getAttribute('data-result') })
      }).then(function (r) {
        return r.json().then(function (j) { return [r, j]; }, function () { return [r, {}]; });
      }).then(function (x) {
        var r = x[0], j = x[1] || {};
        if (r.ok && j.redirectUrl) {
          track('begin_checkout', { payment_type: provider });
          w.location.href = j.redirectUrl;
          return;
        }
        busy(false);
        if (j.code === 'payments_disabled') { paused(); return; }
        say(payStatus, r.status === 429 ? '요청이 너무 많아요. 잠시 후 다시 시도해 주세요.'
          : (j.message || '결제를 시작하지 못했어요. 잠시 후 다시 시도해 주세요.'));
      }).catch(function () {
        busy(false);
        say(payStatus, '네트워크 연결을 확인한 뒤 다시 시도해 주세요.');
      });
    });
  });

  /* Back from the gateway: count the purchase once, then tidy the address. */
  var banner = $('[data-banner]');
  if (banner && banner.getAttribute('data-banner') === 'success') track('purchase', { currency: 'KRW' });
  if (/[?&](paid|payment)=/.test(w.location.search) && w.history.replaceState)
    w.history.replaceState(null, '', w.location.pathname + w.location.hash);
})();
