def suffix(id15):
    al = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    out = ""
    for c in range(3):
        m = 0
        for i in range(5):
            ch = id15[c * 5 + i]
            if "A" <= ch <= "Z":
                m |= 1 << i
        out += al[m]
    return out

def sfid(prefix, tag, n):
    id15 = "%sNw00000%s%02d" % (prefix, tag, n)
    assert len(id15) == 15, id15
    return id15 + suffix(id15)

assert suffix("001A0000006Vm9r") == "IAC"

def case_id(key):  # "C1" -> seeded Case Id
    return sfid("500", "Cas", int(key[1:]))
