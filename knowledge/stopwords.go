package knowledge

import "strings"

// Stop words per language, plus the greetings and sign-offs every support email
// carries: they say nothing about the topic and would otherwise dominate queries.
var stopLists = map[string]string{
	"en": `a about above after again against all also am an and any are aren as at be because been before being below
between both but by can cannot could couldn did didn do does doesn doing don down during each else even ever few for
from further get got had hadn has hasn have haven having he her here hers herself him himself his how however i if in
into is isn it its itself just let like ll me might more most much must mustn my myself need needs no nor not now of off
on once one only or other ought our ours ourselves out over own re s same shall shan she should shouldn since so some
still such t than that the their theirs them themselves then there these they this those though through to too
under until up upon us ve very via was wasn we were weren what when where which while who whom why will with won would
wouldn yet you your yours yourself yourselves
hello hi hey dear thanks thank thx regards best kind kindly cheers please pls sincerely team greetings morning afternoon
evening sir madam mr mrs ms hope help know would could wrote sent ok okay yes also asap soon today yesterday tomorrow
week day days month anything something nothing everything ago last two three already getting keeps`,
	"de": `aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch auf aus bei bin bis
bist da damit dann das dass daß dein deine dem den denn der des dessen deshalb die dies diese diesem diesen dieser dieses
doch dort du durch ein eine einem einen einer eines einig einige er es etwas euer eure für gegen gewesen hab habe haben
hat hatte hatten hier hin hinter ich ihm ihn ihnen ihr ihre im in indem ins ist jede jedem jeden jeder jedes jetzt kann
kein keine können könnte machen man manche mein meine mich mir mit muss musste nach nicht nichts noch nun nur ob oder
ohne schon sehr sein seine selbst sich sie sind so solche soll sollte sondern sonst über um und uns unser unsere unter
viel vom von vor wann war waren warum was weil weiter welche wenn wer werde werden wie wieder will wir wird wo wurde
wurden zu zum zur zwar zwischen
hallo guten tag morgen abend danke möchte möchten würde würden gerne vielen dank bitte gruß grüße grüßen gruss grüsse freundlichen liebe lieber sehr geehrte
geehrter damen herren mfg lg viele beste`,
	"fr": `a ai aie au aux avec avez avoir avons c ça ce ceci cela celle celles celui ces cet cette chez comme comment d dans de
des donc dont du elle elles en encore est et été étais était être eu eux fait faire il ils j je jusqu l la le les leur
leurs lui m ma mais me même mes moi mon n ne ni nos notre nous on ont ou où par pas peu peut plus pour pourquoi qu quand
que quel quelle quelles quels qui s sa sans se ses si son sont sous suis sur t ta te tes toi ton tous tout toute toutes
très tu un une vos votre vous y
bonjour bonsoir merci cordialement madame monsieur salutations bien bonne journée svp plaît plait remerciements
sincères distinguées veuillez agréer`,
	"es": `a al algo algunas algunos ante antes como con contra cual cuando de del desde donde dos el ella ellas ellos en entre era
eres es esa esas ese eso esos esta está estaba estado estamos están estar estas este esto estos estoy fue fueron ha había
han has hasta hay he la las le les lo los me mi mis mucho muy más nada ni no nos nosotros o os otra otro para pero poco
por porque que qué quien se sea ser si sí sin sobre son su sus también tan te tengo ti tiene tienen todo todos tu tus
un una uno unos usted ustedes y ya yo
hola buenos buenas días dias tardes gracias saludos atentamente estimado estimada estimados cordial favor muchas
un saludo`,
}

var stopCache = map[string]map[string]bool{}

func init() {
	// Pure computation over constants, no I/O: builds the lookup sets once.
	for lang, list := range stopLists {
		m := map[string]bool{}
		for _, w := range strings.Fields(list) {
			m[w] = true
			m[fold(w)] = true
		}
		stopCache[lang] = m
	}
}

// stopWords returns the stop-word set of a language (empty for unknown ones).
func stopWords(lang string) map[string]bool {
	if m, ok := stopCache[lang]; ok {
		return m
	}
	return map[string]bool{}
}
