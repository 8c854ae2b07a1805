import base64, quopri, html, random, uuid, hashlib
from email.header import Header
from email.utils import formataddr, format_datetime
from datetime import datetime, timedelta, timezone

CRLF = b"\r\n"

def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

def is_ascii(s):
    try:
        s.encode("ascii"); return True
    except UnicodeEncodeError:
        return False

def addr(name, email, charset="utf-8"):
    if not name:
        return email
    if is_ascii(name):
        if any(c in name for c in ',.;:@()<>[]"\\'):
            return '"%s" <%s>' % (name.replace('"', '\\"'), email)
        return "%s <%s>" % (name, email)
    return formataddr((name, email), charset=charset)

def subj(s, charset="utf-8"):
    if is_ascii(s):
        return s
    return Header(s, charset).encode(maxlinelen=76).replace("\n", "\r\n")

def encode_text(text, charset, cte):
    text = text.replace("\r\n", "\n")
    if charset.lower().replace("_", "-") in ("iso-2022-jp",):
        raw = b"\n".join(l.encode("iso2022_jp") for l in text.split("\n"))
    else:
        raw = text.encode(charset)
    if cte in ("7bit", "8bit"):
        if cte == "7bit":
            raw.decode("ascii")  # must be 7-bit clean
        return crlf(raw)
    if cte == "quoted-printable":
        return crlf(quopri.encodestring(raw))
    if cte == "base64":
        return crlf(base64.encodebytes(crlf(raw)))
    raise ValueError(cte)

def b64(data):
    return crlf(base64.encodebytes(data))

class Leaf:
    def __init__(self, ctype, text=None, data=None, charset=None, cte="7bit", params="", filename=None,
                 disposition=None, headers=()):
        self.ctype, self.text, self.data, self.charset, self.cte = ctype, text, data, charset, cte
        self.params, self.filename, self.disposition, self.headers = params, filename, disposition, headers

    def header_lines(self):
        ct = self.ctype
        if self.charset:
            ct += '; charset="%s"' % self.charset
        if self.params:
            ct += "; " + self.params
        if self.filename and self.disposition == "attachment":
            ct += ';\r\n\tname="%s"' % self.filename
        lines = ["Content-Type: " + ct]
        if self.disposition:
            d = self.disposition
            if self.filename:
                d += ';\r\n\tfilename="%s"' % self.filename
            lines.append("Content-Disposition: " + d)
        lines += list(self.headers)
        if self.cte:
            lines.append("Content-Transfer-Encoding: " + self.cte)
        return lines

    def body(self):
        if self.text is not None:
            return encode_text(self.text, self.charset or "us-ascii", self.cte)
        if self.cte == "base64":
            return b64(self.data)
        return crlf(self.data)

class Multi:
    def __init__(self, subtype, parts, boundary, params="", preamble=None, headers=()):
        self.subtype, self.parts, self.boundary, self.params = subtype, parts, boundary, params
        self.preamble, self.headers = preamble, headers

    def header_lines(self):
        ct = "multipart/%s;" % self.subtype
        if self.params:
            ct += " " + self.params + ";"
        ct += '\r\n\tboundary="%s"' % self.boundary
        return ["Content-Type: " + ct] + list(self.headers)

    def body(self):
        out = b""
        if self.preamble:
            out += crlf(self.preamble.encode()) + CRLF
        for p in self.parts:
            out += b"--" + self.boundary.encode() + CRLF + render_entity(p)
            if not out.endswith(CRLF):
                out += CRLF
        out += b"--" + self.boundary.encode() + b"--" + CRLF
        return out

def render_entity(e):
    hdr = "\r\n".join(e.header_lines()).encode("ascii") + CRLF + CRLF
    return hdr + e.body()

def render_message(headers, entity, mime_version=True):
    lines = []
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if mime_version:
        lines.append("MIME-Version: 1.0")
    lines += entity.header_lines()
    out = "\r\n".join(lines).encode("ascii") + CRLF + CRLF + entity.body()
    if not out.endswith(CRLF):
        out += CRLF
    return out

def date(s, tz):
    """s 'YYYY-MM-DD HH:MM:SS', tz like '+0100'."""
    sign = 1 if tz[0] == "+" else -1
    off = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
    dt = datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone(off))
    return dt

def fmt_date(dt):
    return format_datetime(dt)

def rnd(seed):
    return random.Random(hashlib.sha256(seed.encode()).digest())

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

def msgid(style, seed, domain=None):
    r = rnd(seed)
    def s(n, al=ALNUM):
        return "".join(r.choice(al) for _ in range(n))
    if style == "gmail":
        return "<CA%s%s@mail.gmail.com>" % (s(2, "ABCDEFGHJKLMNPQRSTUVWXYZ"), s(44, ALNUM + "+_-"))
    if style == "outlook":
        p = r.choice(["AM9PR07MB", "DB9PR04MB", "PH0PR11MB", "SN6PR08MB", "BY5PR19MB"])
        host = p + str(r.randint(1000, 9999))
        reg = {"AM": "eurprd07", "DB": "eurprd04", "PH": "namprd11", "SN": "namprd08", "BY": "namprd19"}[p[:2]]
        return "<%s%s@%s.%s.prod.outlook.com>" % (host, s(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), host, reg)
    if style == "apple":
        u = uuid.UUID(int=r.getrandbits(128))
        return "<%s@%s>" % (str(u).upper(), domain)
    if style == "thunderbird":
        u = uuid.UUID(int=r.getrandbits(128), version=4)
        return "<%s@%s>" % (u, domain)
    if style == "sfdc":
        return "<%s00000000000000000000000000000000000000000000000%s@sfdc.net>" % (s(3), s(12))
    if style == "yahoo":
        return "<%d.%d.%d@mail.yahoo.com>" % (r.randint(10**8, 10**9), r.randint(10**6, 10**7), r.randint(10**12, 10**13))
    # generic
    return "<%s.%s@%s>" % (s(16, "0123456789abcdef"), s(8, "0123456789abcdef"), domain)

def text_to_html(text, quote=None, style="gmail"):
    paras = [p for p in text.replace("\r\n", "\n").split("\n\n")]
    if style == "outlook":
        out = ['<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40">',
               '<head>', '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
               '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">',
               '<style><!--', 'p.MsoNormal, li.MsoNormal, div.MsoNormal', '\t{margin:0cm;', '\tfont-size:11.0pt;', '\tfont-family:"Calibri",sans-serif;}',
               '--></style>', '</head>', '<body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">', '<div class="WordSection1">']
        for p in paras:
            for line in p.split("\n"):
                out.append('<p class="MsoNormal">%s<o:p></o:p></p>' % (html.escape(line) or "&nbsp;"))
            out.append('<p class="MsoNormal"><o:p>&nbsp;</o:p></p>')
        if quote:
            out.append('<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">')
            for line in quote.split("\n"):
                out.append('<p class="MsoNormal">%s<o:p></o:p></p>' % (html.escape(line) or "&nbsp;"))
            out.append('</div>')
        out += ['</div>', '</body>', '</html>']
        return "\n".join(out) + "\n"
    out = ['<div dir="ltr">'] if style == "gmail" else ['<html><head><meta charset="utf-8"></head><body>']
    for p in paras:
        out.append("<div>%s</div><div><br></div>" % "<br>".join(html.escape(l) for l in p.split("\n")))
    if quote:
        head, _, rest = quote.partition("\n")
        out.append('<div class="gmail_quote"><div dir="ltr" class="gmail_attr">%s</div>' % html.escape(head))
        out.append('<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">')
        out.append("<br>".join(html.escape(l[2:] if l.startswith("> ") else l.lstrip(">")) for l in rest.strip("\n").split("\n")))
        out.append("</blockquote></div>")
    out.append("</div>" if style == "gmail" else "</body></html>")
    return "\n".join(out) + "\n"
