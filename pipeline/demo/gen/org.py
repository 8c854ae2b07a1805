"""The demo org (seed for sfsim): accounts, contacts, cases and the email
messages behind the seeded cases. Called by gen.py."""
import json, sys
from people import P

from sfids import suffix, sfid


def write(S, path):
    """Builds the org from the seeded Message-IDs S and writes it to path."""

    ACCTS = [
     # key, Name, Website, Industry, Type (tier), AccountNumber, Phone, City, Postcode, Country, Description
     ("contoso", "Contoso Ltd", "https://www.contoso.example", "Technology", "Enterprise", "NW-ENT-0007", "+44 20 7946 0000", "London", "EC2A 4BX", "United Kingdom",
      "Tier: Enterprise. VIP: strategic account, 24/7 support, 1-hour first response on high-priority cases. About 3,200 devices across the UK and Ireland workspaces. Account manager: Laura Chen."),
     ("litware", "Litware Inc.", "https://www.litware.example", "Technology", "Enterprise", "NW-ENT-0042", "+1 425 555 0100", "Redmond", "98052", "United States",
      "Tier: Enterprise. Heavy API user (nightly device sync, webhooks). Invoices to Accounts Payable; PO number required on every invoice."),
     ("fabrikam", "Fabrikam Logistik GmbH", "https://www.fabrikam.example", "Transportation", "Business", "NW-BUS-0311", "+49 203 555 0100", "Duisburg", "47119", "Germany",
      "Tier: Business. Contract until 31.03.2027. Warehouses in Duisburg and (new) Hamburg. Prefers German."),
     ("blueyonder", "Blue Yonder Airlines", "https://www.blueyonder.example", "Transportation", "Business", "NW-BUS-0288", "+1 206 555 0100", "Seattle", "98101", "United States",
      "Tier: Business. Fleet dashboard for ground equipment at 14 airports. Renewal due 31 December 2026."),
     ("tailspin", "Tailspin Toys S.L.", "https://www.tailspin.example", "Retail", "Business", "NW-BUS-0356", "+34 93 555 0100", "Barcelona", "08036", "Spain",
      "Tier: Business. Reseller of SmartPlug Mini and Hub; ERP integration through the Orders API."),
     ("vandijk", "Van Dijk Installaties B.V.", "https://www.vandijk.example", "Other", "Business", "NW-BUS-0402", "+31 30 555 0100", "Utrecht", "3511 AB", "Netherlands",
      "Tier: Business. Electrical installer; fits Northwind devices for its own customers."),
     ("sakura", "Sakura Denki K.K.", "https://www.sakura-denki.example", "Electronics", "Business", "NW-BUS-0417", "+81 3 5555 0100", "Tokyo", "100-0005", "Japan",
      "Tier: Business. One administrator (Yamada). Prefers Japanese."),
     ("lemaire", "Boulangerie Lemaire SARL", "https://www.lemaire.example", "Hospitality", "Starter", "NW-STA-1187", "+33 4 72 55 01 00", "Lyon", "69001", "France",
      "Tier: Starter. Temperature sensors in cold rooms. Moving to 8 rue des Tanneurs, 69002 Lyon on 1 December 2026."),
     ("adventure", "Adventure Works Cycles", "https://www.adventure-works.example", "Retail", "Starter", "NW-STA-1203", "+44 117 496 0100", "Bristol", "BS1 4DJ", "United Kingdom",
      "Tier: Starter. Bicycle shops in Bristol and Belfast."),
     ("webshop", "Northwind Web Shop Customers", None, "Retail", "Other", "NW-WEB-0001", None, None, None, None,
      "Tier: Consumer. Holding account for web-shop customers (this org has no Person Accounts). Its contacts use free-mail domains: never match senders to this account by domain."),
    ]
    acct_id = {}
    accounts = []
    for i, a in enumerate(ACCTS, 1):
        key, name, web, ind, typ, num, phone, city, pc, country, desc = a
        acct_id[key] = sfid("001", "Acc", i)
        r = {"Id": acct_id[key], "Name": name, "AccountNumber": num, "Type": typ, "Industry": ind}
        if web: r["Website"] = web
        if phone: r["Phone"] = phone
        if city: r["BillingCity"] = city
        if pc: r["BillingPostalCode"] = pc
        if country: r["BillingCountry"] = country
        r["Description"] = desc
        accounts.append(r)

    CONTACT_EXTRA = {
        "olivia": ("IT Director", "IT", "+44 20 7946 0321"),
        "marcus": ("Head of Compliance", "Compliance", "+44 20 7946 0958"),
        "priya": ("Staff Engineer", "Engineering", None),
        "daniel": ("Finance Manager", "Finance", "+1 425 555 0188"),
        "juergen": ("Einkauf", "Einkauf", "+49 203 555 0142"),
        "katrin": ("IT-Administration", "IT", None),
        "rachel": ("Director of Ground Operations IT", "IT", None),
        "jose": ("Compras", "Compras", None),
        "sanne": ("Projectcoördinator", "Projecten", "+31 30 555 0198"),
        "yamada": ("情報システム部", "情報システム部", "03-5555-0123"),
        "helene": ("Gérante", None, None),
        "tom": ("Owner", None, None),
    }
    NAMES = {"yamada": ("太郎", "山田"), "liam": ("Liam", "O'Connor"), "sanne": ("Sanne", "de Vries")}
    contact_id = {}
    contacts = []
    n = 0
    for key, (disp, email, acct, _client) in P.items():
        if acct is None or key == "marcus_new":
            continue
        n += 1
        contact_id[key] = sfid("003", "Con", n)
        first, last = NAMES.get(key) or disp.split(" ", 1)
        r = {"Id": contact_id[key], "AccountId": acct_id[acct], "FirstName": first, "LastName": last, "Email": email}
        t = CONTACT_EXTRA.get(key)
        if t:
            if t[0]: r["Title"] = t[0]
            if t[1]: r["Department"] = t[1]
            if t[2]: r["Phone"] = t[2]
        contacts.append(r)

    CASES = [
     # key, contact, subject, status, priority, created, closed, escalated, number, description
     ("C1", "olivia", "SSO login fails after Okta certificate rotation", "Working", "High", "2026-11-13T09:20:00.000+0000", None, False, "00001042",
      "Since Okta rotated its SAML signing certificate this morning, Contoso users get \"SAML response signature invalid\" when signing in to Northwind Cloud."),
     ("C2", "emma", "Replacement charger never arrived", "Closed", "Medium", "2026-11-05T14:02:00.000+0000", "2026-11-12T10:25:00.000+0000", False, "00001031",
      "The USB-C charger for my Cam 2 was missing from order NW-100390. Support promised a replacement two weeks ago but nothing has arrived."),
     ("C3", "priya", "Webhook deliveries delayed by up to 10 minutes", "New", "Medium", "2026-11-14T17:40:00.000+0000", None, False, "00001045",
      "device.offline webhooks reach our endpoint 5 to 10 minutes after the device goes offline; they used to arrive within seconds."),
     ("C4", "rachel", "Fleet dashboard very slow to load", "Escalated", "High", "2026-11-09T16:12:00.000+0000", None, True, "00001036",
      "The fleet dashboard takes 30-60 seconds to load the map view for our larger airports, which makes it unusable for ground crews."),
     ("C5", "juergen", "Rechnung Oktober fehlt", "Closed", "Low", "2026-11-02T08:30:00.000+0000", "2026-11-05T11:00:00.000+0000", False, "00001024",
      "Die Rechnung für den Monat Oktober ist nicht im Kundenportal zu finden."),
     ("C6", "sophie", "Commande NW-099812 : article manquant", "Closed", "Medium", "2026-09-18T07:50:00.000+0000", "2026-09-21T08:13:00.000+0000", False, "00000877",
      "Le câble d'alimentation manquait dans le colis de la commande NW-099812."),
     ("C7", "marcus", "Add 25 seats to our Enterprise plan", "Closed", "Low", "2026-10-26T10:05:00.000+0000", "2026-10-28T15:40:00.000+0000", False, "00000990",
      "Please add 25 seats to the Contoso UK workspace from 1 November."),
    ]
    case_id = {}
    cases = []
    contact_acct = {k: P[k][2] for k in contact_id}
    for i, c in enumerate(CASES, 1):
        key, who, subjct, status, prio, created, closed, esc, num, desc = c
        case_id[key] = sfid("500", "Cas", i)
        r = {"Id": case_id[key], "CaseNumber": num, "Subject": subjct, "Description": desc, "Status": status, "Priority": prio,
             "Origin": "Email", "ContactId": contact_id[who], "AccountId": acct_id[contact_acct[who]],
             "SuppliedEmail": P[who][1], "SuppliedName": P[who][0], "IsEscalated": esc,
             "CreatedDate": created, "LastModifiedDate": closed or created, "SystemModstamp": closed or created}
        if closed:
            r["ClosedDate"] = closed
        cases.append(r)

    # EmailMessages behind the seeded cases: the demo replies reference these
    # Message-IDs in In-Reply-To/References, so threading against
    # EmailMessage.MessageIdentifier can find the case.
    EMS = [
     ("C1", True, "olivia", S["c1_in"], None, "2026-11-13T09:18:00.000+0000", "SSO login fails after Okta certificate rotation",
      "Hi,\n\nSince Okta rotated its SAML signing certificate this morning, our users get \"SAML response signature invalid\" when they sign in to Northwind Cloud. Can you help?\n\nOlivia"),
     ("C1", False, "olivia", S["c1_out"], S["c1_in"], "2026-11-13T17:05:00.000+0000", "Re: SSO login fails after Okta certificate rotation",
      "Hello Olivia,\n\nThank you for your patience. When Okta rotates its SAML signing certificate, the new certificate has to be uploaded in Northwind Cloud under Settings > Security > Single sign-on, otherwise sign-in fails with a signature error. Please upload the certificate from your Okta app's Sign On tab and try again.\n\nKind regards,\nNina Kowalski\nNorthwind Gadgets Support"),
     ("C2", True, "emma", S["c2_in"], None, "2026-11-05T14:00:00.000+0000", "Replacement charger never arrived",
      "Hi,\n\nThe USB-C charger for my Cam 2 was missing from order NW-100390. You promised a replacement two weeks ago but nothing has arrived.\n\nEmma"),
     ("C2", False, "emma", S["c2_out"], S["c2_in"], "2026-11-12T10:20:00.000+0000", "Re: Replacement charger never arrived",
      "Hi Emma,\n\nWe've shipped a replacement charger by tracked post; it should arrive within 3 working days. I'll close this case for now — just reply to this email if anything else comes up.\n\nKind regards,\nNina Kowalski\nNorthwind Gadgets Support"),
     ("C3", True, "priya", S["c3_in"], None, "2026-11-14T17:38:00.000+0000", "Webhook deliveries delayed by up to 10 minutes",
      "Hello,\n\ndevice.offline webhooks reach our endpoint 5 to 10 minutes after the device goes offline; they used to arrive within seconds.\n\nPriya"),
     ("C3", False, "priya", S["c3_out"], S["c3_in"], "2026-11-14T18:02:00.000+0000", "Re: Webhook deliveries delayed by up to 10 minutes",
      "Hello Priya,\n\nThanks for reporting this. We can see the delays on our side and have passed the case to our platform team; we'll update you as soon as we know more.\n\nKind regards,\nNina Kowalski\nNorthwind Gadgets Support"),
     ("C4", True, "rachel", S["c4_in"], None, "2026-11-09T16:10:00.000+0000", "Fleet dashboard very slow to load",
      "Hi,\n\nThe fleet dashboard takes 30-60 seconds to load the map view for our larger airports, which makes it unusable for our ground crews. Please look into it.\n\nRachel Kim"),
     ("C4", False, "rachel", S["c4_out"], S["c4_in"], "2026-11-21T16:58:00.000+0000", "RE: Fleet dashboard very slow to load",
      "Hi Rachel,\n\nOur platform team has deployed a first fix for the map view; load times should be under 5 seconds now. I have copied your service desk as requested.\n\nKind regards,\nNina Kowalski\nNorthwind Gadgets Support"),
     ("C6", True, "sophie", S["c6_in"], None, "2026-09-18T07:48:00.000+0000", "Commande NW-099812 : article manquant",
      "Bonjour,\n\nLe câble d'alimentation manquait dans le colis de la commande NW-099812.\n\nSophie Dubois"),
     ("C6", False, "sophie", S["c6_out"], S["c6_in"], "2026-09-21T08:12:00.000+0000", "Re: Commande NW-099812 : article manquant",
      "Bonjour Madame Dubois,\n\nNous avons bien expédié le câble manquant de votre commande NW-099812 ; vous le recevrez sous 3 jours ouvrés. Nous clôturons cette demande.\n\nCordialement,\nCamille Laurent\nService client Northwind Gadgets"),
    ]
    ems = []
    em_id = {}
    for i, e in enumerate(EMS, 1):
        ck, incoming, who, mid, parent_mid, when, subject, body = e
        em_id[mid] = sfid("02s", "Eml", i)
        name, addr = P[who][0], P[who][1]
        r = {"Id": em_id[mid], "ParentId": case_id[ck], "RelatedToId": case_id[ck], "Incoming": incoming,
             "Subject": subject, "TextBody": body, "MessageDate": when, "MessageIdentifier": mid,
             "ThreadIdentifier": S[ck.lower() + "_in"], "CreatedDate": when}
        if incoming:
            r.update(FromAddress=addr, FromName=name, ToAddress="support@northwind.example", Status="1")
        else:
            r.update(FromAddress="support@northwind.example", FromName="Northwind Gadgets Support", ToAddress=addr, Status="3")
            if ck == "C4":
                r["CcAddress"] = "servicedesk@blueyonder.example"
            r["ReplyToEmailMessageId"] = em_id[parent_mid]
        ems.append(r)

    org = {"Account": accounts, "Contact": contacts, "Case": cases, "EmailMessage": ems}
    with open(path, "w") as fh:
        fh.write(json.dumps(org, indent=1, ensure_ascii=False) + "\n")
    return len(accounts), len(contacts), len(cases), len(ems)
