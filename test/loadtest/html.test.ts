/** k6/html and Response.html()/submitForm()/clickLink() in `kiln run`, against a loopback server serving pages. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { rng, runBody } from './helpers.ts'
import { HtmlStore } from '../../src/loadtest/modules/html/html.ts'
import { ELEMENT_METHODS } from '../../src/loadtest/modules/html/element.ts'

const LOGIN = `<!DOCTYPE html><html><head><title>Log in &amp; go</title></head><body>
<ul id="nav"><li class="item" data-id="7" data-opts='{"a":1}'>Home</li><li class="item active">Shop</li><li class="item">Cart</li></ul>
<form id="login" action="/login?from=page" method="POST">
  <input type="hidden" name="csrf" value="tok123">
  <input name="user" value="">
  <input type="checkbox" name="remember" checked>
  <input type="checkbox" name="news">
  <input type="checkbox" name="topic" value="a" checked><input type="checkbox" name="topic" value="b" checked>
  <select name="lang"><option value="en">English</option><option value="fr" selected>Français</option></select>
  <textarea name="note">line1
line2</textarea>
  <input type="submit" name="action" value="Sign in">
</form>
<form id="search" action="search"><input name="q" value="old"></form>
<a id="next" href="/page/2?x=1">next</a> <a href="https://example.invalid/">out</a>
<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
</body></html>`

let server: http.Server
let base = ''
const seen: { method: string; url: string; body: string }[] = []
before(async () => {
  server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body })
      res.setHeader('content-type', 'text/html; charset=utf-8')
      res.end(req.url === '/app/login' ? LOGIN : `<p>${req.method} ${req.url}</p>`)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
after(() => new Promise<void>((r) => server.close(() => r())))

const run = (body: string, extra = '') => runBody(body, { BASE: base }, `import { parseHTML, NodeType } from 'k6/html'\n${extra}`)

test('Response.html(): selections, traversal, values and Elements as k6 gives them', async () => {
  const r = await run(`
    const res = http.get(__ENV.BASE + '/app/login')
    const doc = res.html()
    const li = doc.find('#nav li')
    const el = li.get(0)
    const a = doc.find('#next').get(0)
    return {
      title: doc.find('title').text(), count: li.size(), active: li.filter('.active').text(),
      notFirst: li.not((i) => i === 0).size(), texts: li.map((i, s) => s.text()), last: li.last().text(), eq: li.eq(-1).text(),
      next: doc.find('.active').next().text(), prev: doc.find('.active').prev().text(), siblings: doc.find('.active').siblings().size(),
      parent: li.parent().attr('id'), closest: li.closest('ul').size(), parents: li.first().parents().size(), until: li.first().parentsUntil('body').size(),
      nextAll: li.first().nextAll().size(), prevUntil: li.last().prevUntil('.item:first-child').text(),
      is: li.is('.active'), isFn: li.is((i, s) => s.text() === 'Cart'), has: doc.find('ul').has('li.active').size(),
      end: li.filter('.active').end().size(), added: li.add('title').size(), children: doc.find('#nav').children().size(), contents: doc.find('#nav').contents().size(),
      attrDefault: li.attr('nope', 'dflt'), data: li.first().data(), dataKey: li.first().data('id'), html: li.first().html(),
      sel: doc.find('select').val(), area: doc.find('textarea').val(), checkbox: doc.find('[name=remember]').val(),
      serialize: doc.find('#login').serialize(), object: doc.find('#login').serializeObject(), array: doc.find('#search').serializeArray(),
      nodeName: el.nodeName(), isElement: el.nodeType() === NodeType.ElementNode, textType: doc.find('#login').contents().get(0).nodeType(),
      className: el.className(), classList: li.get(1).classList(), dataAttr: el.getAttribute('data-id'), attrNode: el.getAttributeNode('data-id').value,
      sibling: el.nextElementSibling().textContent(), parentId: el.parentElement().id(), contains: el.parentNode().contains(el), same: el.isSameNode(li.get(0)),
      byTag: doc.find('body').get(0).getElementsByTagName('li').length, qs: doc.find('body').get(0).querySelector('li.active').textContent(),
      href: a.href(), pathname: a.pathname(), search: a.search(), host: a.host(), matches: a.matches('a#next'),
      options: doc.find('select').get(0).options().map((o) => o.value()), selectedIndex: doc.find('select').get(0).selectedIndex(),
      formMethod: doc.find('#login').get(0).method(), action: doc.find('#search').get(0).action(),
      cells: doc.find('tr').get(1).cells().map((c) => c.textContent()), rowIndex: doc.find('tr').get(1).rowIndex(),
      each: (() => { const o = []; li.each((i, e) => o.push(i + ':' + e.textContent())); return o })(),
      toArray: li.toArray().map((s) => s.text()), slice: li.slice(1).size(), scoped: li.find('li').size(), empty: doc.find('nothing').text(),
      parsed: parseHTML('<div><p>x</p><p>y</p></div>').find('p').last().text(),
      goHtml: parseHTML('<p title="a&quot;b">é "q" &amp; <br><!--c--></p>').find('body').html(),
      html5: [doc.find('table > tbody > tr').size(), parseHTML('<p>a<p>b<b>c<i>d</b>e</i>').find('body > p').size(), parseHTML('text only').find('html > body').text()],
    }`)
  assert.equal(r.code, 0, r.stderr)
  const o = r.out
  assert.equal(o.title, 'Log in & go')
  assert.equal(o.count, 3)
  assert.equal(o.active, 'Shop')
  assert.equal(o.notFirst, 2)
  assert.deepEqual(o.texts, ['Home', 'Shop', 'Cart'])
  assert.equal(o.last, 'Cart')
  assert.equal(o.eq, 'Cart')
  assert.deepEqual([o.next, o.prev, o.siblings, o.parent, o.closest], ['Cart', 'Home', 2, 'nav', 1])
  assert.deepEqual([o.parents, o.until, o.nextAll, o.prevUntil], [3, 1, 2, 'Shop'])
  assert.deepEqual([o.is, o.isFn, o.has, o.end, o.added, o.children, o.contents], [true, true, 1, 3, 4, 3, 3])
  assert.equal(o.attrDefault, 'dflt')
  assert.deepEqual(o.data, { id: 7, opts: { a: 1 } })
  assert.equal(o.dataKey, 7)
  assert.equal(o.html, 'Home')
  assert.deepEqual([o.sel, o.area, o.checkbox], ['fr', 'line1\nline2', 'on'])
  assert.equal(o.serialize, 'csrf=tok123&user=&remember=on&topic=a&topic=b&lang=fr&note=line1%0D%0Aline2')
  assert.deepEqual(o.object, { csrf: 'tok123', user: '', remember: 'on', topic: 'b', lang: 'fr', note: 'line1\r\nline2' })
  assert.deepEqual(o.array, [{ name: 'q', value: 'old' }])
  assert.deepEqual([o.nodeName, o.isElement, o.textType], ['LI', true, 3])
  assert.deepEqual([o.className, o.classList, o.dataAttr, o.attrNode], ['item', ['item', 'active'], '7', '7'])
  assert.deepEqual([o.sibling, o.parentId, o.contains, o.same, o.byTag, o.qs], ['Shop', 'nav', true, true, 3, 'Shop'])
  assert.equal(o.href, `${base}/page/2?x=1`, 'relative links resolve against the response URL')
  assert.deepEqual([o.pathname, o.search, o.host, o.matches], ['/page/2', '?x=1', base.slice(7), true])
  assert.deepEqual([o.options, o.selectedIndex, o.formMethod, o.action], [['en', 'fr'], 1, 'post', `${base}/app/search`])
  assert.deepEqual([o.cells, o.rowIndex], [['c', 'd'], 1])
  assert.deepEqual(o.each, ['0:Home', '1:Shop', '2:Cart'])
  assert.deepEqual([o.toArray, o.slice, o.scoped, o.empty, o.parsed], [['Home', 'Shop', 'Cart'], 2, 0, '', 'y'])
  assert.equal(o.goHtml, '<p title="a&#34;b">é &#34;q&#34; &amp; <br><!--c--></p>', "html() escapes as Go's html.Render (goquery)")
  assert.deepEqual(o.html5, [2, 2, 'text only'], 'HTML5 tree building: implied tbody, implied </p>, implied html/body')
})

test('submitForm posts the form with its fields, the given ones and the submit button; clickLink follows a link', async () => {
  seen.length = 0
  const r = await run(`
    const page = http.get(__ENV.BASE + '/app/login')
    const posted = page.submitForm({ formSelector: '#login', fields: { user: 'ada' }, params: { tags: { name: 'login' } } })
    const searched = page.submitForm({ formSelector: '#search', fields: { q: 'a b' } })
    const clicked = page.clickLink({ selector: '#next' })
    let missing = ''
    try { page.submitForm({ formSelector: '#nope' }) } catch (e) { missing = String(e.message) }
    return { posted: posted.body, status: posted.status, searched: searched.body, clicked: clicked.body, first: page.clickLink().url, missing }`)
  assert.equal(r.code, 0, r.stderr)
  const post = seen.find((s) => s.method === 'POST')
  assert.ok(post, 'the form was posted')
  assert.equal(post.url, '/login?from=page')
  assert.deepEqual(
    [...new URLSearchParams(post.body)],
    [
      ['csrf', 'tok123'],
      ['remember', 'on'],
      ['topic', 'a'],
      ['topic', 'b'],
      ['lang', 'fr'],
      ['note', 'line1\r\nline2'],
      ['action', 'Sign in'],
      ['user', 'ada'],
    ],
    'every pair, repeated names kept, fields given replace theirs',
  )
  assert.equal(r.out.posted, '<p>POST /login?from=page</p>')
  assert.equal(r.out.searched, '<p>GET /app/search?q=a%20b</p>')
  assert.equal(r.out.clicked, '<p>GET /page/2?x=1</p>')
  assert.equal(r.out.first, `${base}/page/2?x=1`)
  assert.match(r.out.missing, /no form found for selector '#nope'/)
})

test('bad selectors and pages from an earlier iteration are script errors, not crashes', async () => {
  const r = await run(
    `
    const doc = parseHTML('<p>x</p>')
    const out = []
    for (const s of ['p[', ':nope(1)', '>>>']) { try { doc.find(s); out.push('ok ' + s) } catch (e) { out.push(String(e.message).startsWith("invalid selector '" + s + "': ")) } }
    try { kept.find('p').text(); out.push('kept') } catch (e) { out.push(e.message) }
    return out`,
    "const kept = parseHTML('<p>init</p>')",
  )
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.out.slice(0, 3), [true, true, true], 'each bad selector is named in its error')
  assert.equal(r.out[3], 'kept', 'a page parsed in the init context lives for the whole run')
})

test('fuzz: random and mutated HTML through every Selection and Element operation only ever throws Errors', () => {
  const pieces = [
    '<div class="a">',
    '</div>',
    '<p id=x>',
    '</p>',
    '<a href="/q?x=1">',
    '</a>',
    '<form action=f>',
    '<input name=n value=v>',
    '<select name=s><option>o',
    '</select>',
    '<table><tr><td>',
    '<!--c-->',
    '<!DOCTYPE html>',
    '<script>if(a<b)</script>',
    '&amp;',
    '&#xZZ;',
    '<',
    '>',
    '"',
    "'",
    '=',
    'text',
    '\u0000',
    '<br/>',
    '<textarea>x',
    '<li data-k=1>',
    '<![CDATA[x]]>',
  ]
  const selectors = [
    'div',
    'p',
    '.a',
    '#x',
    'a[href]',
    'div > p',
    'li:first-child',
    ':contains(text)',
    'div p, a',
    '*',
    'p[',
    ':has(a)',
    'input[name=n]',
    'td:nth-child(2n+1)',
  ]
  const ops = [
    'find',
    'children',
    'contents',
    'parent',
    'parents',
    'parentsUntil',
    'closest',
    'siblings',
    'next',
    'nextAll',
    'nextUntil',
    'prev',
    'prevAll',
    'prevUntil',
    'filter',
    'not',
    'is',
    'has',
    'add',
    'attr',
    'text',
    'html',
    'val',
    'data',
    'serializeArray',
  ]
  const next = rng(5)
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)]!
  const store = new HtmlStore()
  store.keepNew = false
  let calls = 0
  for (let round = 0; round < 300; round++) {
    let src = Array.from({ length: 1 + Math.floor(next() * 40) }, () => pick(pieces)).join('')
    if (round % 3 === 0) src = src.slice(0, Math.floor(next() * src.length)) // truncated
    const doc = store.parse(src, round % 2 ? 'http://127.0.0.1/base/' : '')
    let ids = [0]
    for (let k = 0; k < 20; k++) {
      const op = pick(ops)
      try {
        const out = JSON.parse(store.call(JSON.stringify([op, doc, ids, pick(selectors), null])))
        calls++
        if (Array.isArray(out) && out.every((x) => typeof x === 'number')) ids = out.length ? out : [0]
        const id = ids[Math.floor(next() * ids.length)]!
        JSON.parse(store.call(JSON.stringify(['el', doc, [id], pick(ELEMENT_METHODS), [pick(selectors)]])))
      } catch (e) {
        assert.ok(e instanceof Error && /^invalid selector|^Element has no method/.test(e.message), `round ${round}: ${String(e)}`)
      }
    }
    store.endIteration()
  }
  assert.ok(calls > 3000, `${calls} calls answered`)
})

test('fuzz through a VU: random pages (NULs, lone surrogates, broken tags) and every Selection/Element call never crash the VU', async () => {
  const r = await run(`
    let seed = 17
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296)
    const pick = (xs) => xs[Math.floor(rnd() * xs.length)]
    const pieces = ['<div class=a>', '</div>', '<p>', '<a href="?q=1">', '</a>', '<form><input name=n value=v>', '<select name=s><option selected>o', '<table><td>', '<!--', '-->', '<script>', '</script>', '&amp;', '&#0;', '\\u0000', '\\ud800', 'é', '<', '>', '"', '<li data-x="{bad">', 'txt']
    const sels = ['div', 'p', '.a', 'a[href]', 'div > p', ':contains(txt)', '*', 'li:nth-child(odd)', 'p[', 'select option']
    const methods = ['nodeName', 'textContent', 'innerHTML', 'attributes', 'children', 'parentNode', 'href', 'value', 'options', 'form', 'rows', 'classList', 'id', 'toString']
    let calls = 0, selectorErrors = 0
    for (let i = 0; i < 150; i++) {
      const src = Array.from({ length: Math.floor(rnd() * 30) }, () => pick(pieces)).join('')
      let s = parseHTML(src)
      for (let k = 0; k < 8; k++) {
        try {
          const next = pick([(x) => x.find(pick(sels)), (x) => x.children(), (x) => x.parent(), (x) => x.next(), (x) => x.siblings(), (x) => x.closest(pick(sels)), (x) => x.filter(pick(sels)), (x) => x.add(pick(sels)), (x) => x.contents()])(s)
          if (next.size()) s = next
          s.text(); s.html(); s.val(); s.attr('href'); s.data(); s.serialize()
          const el = s.get(Math.floor(rnd() * s.size()))
          if (el) el[pick(methods)]()
          calls++
        } catch (e) {
          if (!String(e.message).startsWith('invalid selector')) throw e
          selectorErrors++
        }
      }
    }
    return { calls, selectorErrors }`)
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.out, r.stderr)
  assert.ok(r.out.calls > 800, `${r.out.calls} rounds completed`)
  assert.ok(r.out.selectorErrors > 0, 'bad selectors were tried')
})
