# Demo senders. key: (display name, address, account key or None, client style)
P = {
    "olivia": ("Olivia Bennett", "olivia.bennett@contoso.example", "contoso", "apple"),
    "marcus": ("Marcus Reed", "marcus.reed@contoso.example", "contoso", "outlook"),
    "marcus_new": ("Marcus Reed", "m.reed@contoso.example", "contoso", "outlook"),
    "priya": ("Priya Natarajan", "priya.natarajan@litware.example", "litware", "thunderbird"),
    "daniel": ("Daniel Okafor", "daniel.okafor@litware.example", "litware", "outlook"),
    "juergen": ("Jürgen Weiß", "juergen.weiss@fabrikam.example", "fabrikam", "thunderbird"),
    "katrin": ("Katrin Schäfer", "katrin.schaefer@fabrikam.example", "fabrikam", "outlook"),
    "rachel": ("Rachel Kim", "rachel.kim@blueyonder.example", "blueyonder", "gmail"),
    "jose": ("José Martínez", "jose.martinez@tailspin.example", "tailspin", "outlook"),
    "sanne": ("Sanne de Vries", "sanne.devries@vandijk.example", "vandijk", "outlook"),
    "yamada": ("山田 太郎", "t.yamada@sakura-denki.example", "sakura", "generic"),
    "helene": ("Hélène Lemaire", "helene@lemaire.example", "lemaire", "generic"),
    "tom": ("Tom Hughes", "tom.hughes@adventure-works.example", "adventure", "outlook"),
    "emma": ("Emma Wilson", "emma.wilson@gmail.com", "webshop", "gmail"),
    "liam": ("Liam O'Connor", "liam.oconnor@outlook.com", "webshop", "outlook"),
    "sophie": ("Sophie Dubois", "sophie.dubois@orange.fr", "webshop", "generic"),
    "lukas": ("Lukas Becker", "lukas.becker@gmx.de", "webshop", "generic"),
    "carmen": ("Carmen Ruiz", "carmen.ruiz@yahoo.es", "webshop", "yahoo"),
    "noah": ("Noah Jansen", "noah.jansen@hotmail.nl", "webshop", "outlook"),
    "aisha": ("Aisha Khan", "aisha.khan@yahoo.com", "webshop", "yahoo"),
    "greg": ("Greg Thompson", "greg.thompson@aol.com", "webshop", "generic"),
    "robert": ("Robert Chen", "robert.chen@icloud.com", "webshop", "apple"),
    # not in the org: the pipeline must create (or, for noise, never create) these
    "hannah": ("Hannah Fischer", "hannah.fischer@posteo.de", None, "thunderbird"),
    "ben": ("Ben Carter", "ben.carter@carter-events.example", None, "gmail"),
    "kevin": ("Kevin Moss", "kevin.moss@proton.me", None, "generic"),
    "mia": ("Mia Schneider", "mia.schneider@web.de", None, "generic"),
    "grace": ("Grace Liu", "grace.liu@gmail.com", None, "gmail"),
    "ravi": ("Ravi Patel", "ravi.patel@outlook.com", None, "outlook"),
}
SUPPORT = ("Northwind Gadgets Support", "support@northwind.example")
BILLING = ("Northwind Gadgets Billing", "billing@northwind.example")
