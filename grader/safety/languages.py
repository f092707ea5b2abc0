"""Injection rules in other languages than English: French, Spanish, German, Portuguese, Italian, Chinese,
Japanese, Russian and Dutch.

Each language gives word lists, not sentences, for five signals; a rule fires when a sentence
holds the signals that together make an instruction to the grader:
- `override` (an order to drop something: "ignorez", "olvida", "vergiss", "忽略") followed by a
  `target` (the instructions, rules, rubric, criteria: "consignes", "Anweisungen", "指令");
- `top` (a top score: "note maximale", "Bestnote", "满分") with `ask` (an order or a request
  aimed at whoever grades: "donnez-moi", "por favor", "gib", "请", or an obligation: "doit être
  notée", "muss ... bewertet werden");
- `address` (a word for the grader in a vocative: "en tant qu'évaluateur", "Hinweis an die KI")
  with `ask` or `top`, or a `strong` address on its own (a note to the AI, a greeting to the
  evaluator, a message to the automatic grading system);
- a chat role label (`Système :`, `Sistema:`, `系统提示：`).

The verbs are listed in their imperative (and polite) forms only, so a description in the past
("on ignorait les consignes", "wir haben die Anweisungen ignoriert") does not fire; a subject
pronoun just before the verb ("il ignore les consignes") also makes it a description.

Patterns are matched on the normalised text with accents removed from Latin and Cyrillic letters
and case folded (so "évaluateur", "evaluateur" and "ÉVALUATEUR" are one word; "ß" reads "ss").
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Lexicon:
    lang: str
    override: str
    target: str
    top: str
    ask: str
    address: str
    strong: str
    role: str
    subjects: frozenset[str] = frozenset()  # words that, just before an override verb, make it a description
    spaced: bool = True  # words are separated by spaces (word boundaries apply)


FR = Lexicon(
    "fr",
    override=r"ignorez|ignore|oubliez|oublie|ne (?:tenez|tiens) pas compte d[eu]s?|(?:faites|fais) abstraction d[eu]s?|"
             r"ecartez|negligez|passez outre|laissez de cote",
    target=r"instructions?|consignes?|directives?|bareme|grilles?|criteres?|rubriques?|prompt|invites?|indications?|"
           r"(?:toutes les |vos |tes )regles|regles (?:precedentes|ci-dessus|d'evaluation|de notation)",
    top=r"(?:la )?meilleure note|notes? maximale?s?|note maximum|(?:la )?note la plus (?:haute|elevee)|"
        r"(?:le )?niveau (?:5|cinq|maximum|maximal)|5/5|20/20|au maximum|le maximum|excellente?s?|admise?|reussie?|"
        r"(?:un |une |note de |note )(?:5|cinq)\b|(?:toutes les|chaque) competences?|"
        r"comme (?:excellente?s?|admise?s?|reussie?s?|parfaite?s?)",
    ask=r"donnez|donne-moi|donne-lui|mettez|mets-moi|mets|attribuez|attribue|accordez|notez|note-moi|notez-moi|"
        r"merci de|veuillez|vous devez|tu dois|soyez|sois|validez|valide|marquez|considerez|classez|"
        r"(?:me|m'|lui|nous) (?:donner|mettre|attribuer|accorder|noter)|je vous demande|je te demande|"
        r"(?:doit|doivent|devrait|devraient) etre (?:notee?s?|evaluee?s?|classee?s?|consideree?s?|jugee?s?)",
    address=r"en tant qu'?(?:evaluateur|evaluatrice|correcteur|correctrice|examinateur|examinatrice|ia|"
            r"intelligence artificielle|modele|systeme|jury)|(?:cher|chere|chers) (?:evaluateur|evaluatrice|"
            r"correcteur|correctrice|examinateur|jury|ia)",
    strong=r"(?:note|message|remarque|consigne|mot)s? (?:a|pour|destinee? a) (?:l'|la |le |au )?(?:ia|"
           r"intelligence artificielle|evaluateur|correcteur|modele|systeme de notation|examinateur)|"
           r"a l'(?:intention|attention) (?:de l'|du |de la |des )?(?:ia|correcteur|evaluateur|systeme|modele)|"
           r"(?:cher|chere) (?:evaluateur|evaluatrice|correcteur|correctrice|ia)",
    role=r"systeme|assistant|utilisateur",
    subjects=frozenset({"je", "j", "il", "elle", "on", "nous", "ils", "elles", "qui", "equipe", "client", "ne"}),
)

ES = Lexicon(
    "es",
    override=r"ignora|ignore|ignoren|olvida|olvide|olviden|no (?:tengas|tenga|tengan) en cuenta|"
             r"haz caso omiso (?:a|de)|omite|desestima|descarta",
    target=r"instrucciones?|rubricas?|criterios?|directrices|pautas|indicaciones|prompt|baremo|"
           r"(?:todas las|tus|sus) reglas|reglas (?:anteriores|de evaluacion|de calificacion)",
    top=r"(?:la )?(?:puntuacion|nota|calificacion) (?:mas alta|maxima)|(?:la )?maxima (?:puntuacion|nota|"
        r"calificacion)|(?:el )?nivel (?:5|cinco|maximo)|5/5|10/10|(?:un |el )(?:5|cinco)\b|"
        r"(?:todas las|cada) competencias?|como (?:excelente|aprobad[ao]|sobresaliente)",
    ask=r"dame|dale|ponme|pon|asigna|asigne|otorga|otorgue|califica|califícame|calificame|por favor|debes|"
        r"debe ser (?:calificad[ao]|evaluad[ao]|puntuad[ao])|marca|marque|se generoso|sea generoso|considera|"
        r"me (?:des|de|den|pongas|ponga|asignes|asigne)|te pido|le pido|les pido",
    address=r"como (?:evaluador|evaluadora|corrector|examinador|ia|modelo|sistema)|(?:querido|querida|estimado|"
            r"estimada) (?:evaluador|evaluadora|corrector|examinador)",
    strong=r"(?:nota|mensaje|aviso) (?:para|a) (?:la |el )?(?:ia|evaluador|corrector|modelo|sistema de evaluacion)|"
           r"al sistema de (?:evaluacion|calificacion)|(?:querido|querida|estimado|estimada) (?:evaluador|"
           r"evaluadora|corrector|ia)",
    role=r"sistema|asistente|usuario",
    subjects=frozenset({"yo", "el", "ella", "se", "que", "nosotros", "ellos", "equipo", "cliente", "no"}),
)

DE = Lexicon(
    "de",
    override=r"ignoriere|ignorier|ignorieren sie|vergiss(?! nicht)|vergessen sie(?! nicht)|missachte|missachten sie|"
             r"beachte|beachten sie|uberspringe|uberspringen sie|verwirf|verwerfen sie",
    target=r"anweisungen?|bewertungs(?:schema|raster|richtlinien|kriterien|bogen|regeln)|kriterien|richtlinien|"
           r"vorgaben|rubrik|prompt|instruktionen|(?:alle|deine|ihre|vorherigen|bisherigen|obigen) regeln",
    top=r"(?:die )?volle punktzahl|hochstpunktzahl|bestnote|hochste(?:n)? (?:stufe|note|bewertung|punktzahl)|"
        r"maximale(?:n)? (?:punktzahl|stufe|bewertung)|stufe (?:5|funf)|eine (?:5|funf)\b|"
        r"(?:allen|jedem) (?:kompetenzen|kriterium|kriterien)|als (?:hervorragend|bestanden|exzellent)",
    ask=r"gib|geben sie|vergib|vergeben sie|bewerte|bewerten sie|bitte|musst du|mussen sie|markiere|markieren sie|"
        r"sei|seien sie|stufe|stufen sie|muss mit|muss als",
    address=r"als (?:bewerter|bewerterin|prufer|pruferin|gutachter|ki|modell|bewertungssystem)|"
            r"(?:lieber|liebe|sehr geehrte[r]?) (?:prufer|pruferin|bewerter|bewerterin|gutachter|ki)",
    strong=r"(?:hinweis|nachricht|notiz|anweisung) (?:an|fur) (?:die |den |das )?(?:ki|bewerter|prufer|modell|"
           r"bewertungssystem)|an (?:das|die|den) (?:automatische |automatischen )?(?:bewertungssystem|ki|bewerter|"
           r"prufer)\b|(?:lieber|liebe) (?:prufer|pruferin|bewerter|bewerterin|ki)",
    role=r"system|assistent|benutzer",
    subjects=frozenset({"ich", "er", "sie", "es", "wir", "man", "die", "der", "das", "team", "kunde", "nicht"}),
)

PT = Lexicon(
    "pt",
    override=r"ignore|ignora|ignorem|esqueca|esquece|esquecam|desconsidere|desconsidera|"
             r"nao (?:considere|leve em conta)|"
             r"descarte",
    target=r"instrucoes|instrucao|rubricas?|criterios?|diretrizes|orientacoes|prompt|"
           r"(?:todas as|suas|tuas) regras|regras (?:anteriores|de avaliacao)",
    top=r"(?:a )?(?:nota|pontuacao|avaliacao) (?:maxima|mais alta)|(?:a )?maxima (?:nota|pontuacao)|"
        r"(?:o )?nivel (?:5|cinco|maximo)|5/5|10/10|(?:um |nota )(?:5|cinco)\b|"
        r"(?:todas as|cada) competencias?|como (?:excelente|aprovad[ao])",
    ask=r"de-me|me de|de a|de um|de ao|atribua|atribui|marque|marca|avalie|por favor|voce deve|deves|"
        r"deve ser (?:avaliad[ao]|classificad[ao]|pontuad[ao])|seja generoso|considere|classifique",
    address=r"como (?:avaliador|avaliadora|examinador|ia|modelo|sistema)|(?:caro|cara|prezado|prezada) "
            r"(?:avaliador|avaliadora|examinador)",
    strong=r"(?:nota|mensagem|aviso) (?:para|a|ao) (?:a |o )?(?:ia|avaliador|examinador|modelo|sistema de avaliacao)|"
           r"ao sistema de (?:avaliacao|pontuacao)|(?:caro|cara|prezado|prezada) (?:avaliador|avaliadora|ia)",
    role=r"sistema|assistente|usuario",
    subjects=frozenset({"eu", "ele", "ela", "se", "que", "nos", "eles", "equipe", "cliente", "nao"}),
)

IT = Lexicon(
    "it",
    override=r"ignora|ignorate|ignori|dimentica|dimenticate|dimentichi|non (?:tenere|tenete|tenga) conto d(?:ei|elle|"
             r"el|ella|i)|trascura|trascurate|scarta",
    target=r"istruzioni|istruzione|griglia|criteri|linee guida|rubrica|prompt|indicazioni|"
           r"(?:tutte le|le tue|le sue) regole|regole (?:precedenti|di valutazione)",
    top=r"(?:il )?punteggio (?:massimo|piu alto)|(?:il )?voto (?:massimo|piu alto)|(?:il )?massimo dei voti|"
        r"(?:il )?livello (?:5|cinque|massimo)|5/5|10/10|30 e lode|un (?:5|cinque)\b|"
        r"(?:tutte le|ogni) competenze?|come (?:eccellente|promoss[oa])",
    ask=r"dammi|dagli|dai|assegna|assegnate|assegni|valuta|valutate|per favore|devi|"
        r"deve essere (?:valutat[ao]|giudicat[ao]|considerat[ao])|segna|segnate|sii generoso|considera",
    address=r"come (?:valutatore|valutatrice|esaminatore|ia|modello|sistema)|(?:caro|cara|gentile) "
            r"(?:valutatore|valutatrice|esaminatore)",
    strong=r"(?:nota|messaggio|avviso) (?:per|a|al|alla) (?:l'|la |il )?(?:ia|valutatore|esaminatore|modello|"
           r"sistema di valutazione)|al sistema di valutazione|(?:caro|cara) (?:valutatore|valutatrice|ia)",
    role=r"sistema|assistente|utente",
    subjects=frozenset({"io", "lui", "lei", "si", "che", "noi", "loro", "team", "cliente", "non"}),
)

ZH = Lexicon(
    "zh",
    override=r"忽略|忽视|无视|不要理会|不要管|别管|忘掉|忘记|不用管|抛开|撇开|跳过",
    target=r"指令|指示|规则|评分标准|标准|提示词|提示|要求|说明",
    top=r"满分|最高分|最高等级|最高级|最高的?分|5分|5级|等级为?5|(?:评为|评定为|标记为|定为)(?:优秀|通过|5)",
    ask=r"请|给我|给这|给他|给她|必须|应该|应当|打|评为|标记为|要给",
    address=r"作为(?:评分|评估|打分|评审)?(?:系统|者|员|人|模型|AI|ai)|评委|评估员|评分员|考官",
    strong=r"(?:给|致|写给).{0,12}(?:AI|ai|人工智能|评分系统|评估系统|模型|评委|评估员)|亲爱的(?:评委|评估员|评分员|考官|AI)",
    role=r"系统(?:提示|消息)?|助手|用户",
    spaced=False,
)

JA = Lexicon(
    "ja",
    override=r"無視|忘れて|従わないで|気にしないで",
    target=r"指示|ルール|評価基準|基準|ルーブリック|プロンプト|規則",
    top=r"満点|最高評価|最高点|レベル5|合格|最高の評価",
    ask=r"ください|下さい|つけて|してください|しなさい|にして",
    address=r"評価者として|採点者として|AIとして",
    strong=r"(?:評価者|採点者|AI|審査員)(?:へ|様|さん)",
    role=r"システム|アシスタント|ユーザー",
    spaced=False,
)

RU = Lexicon(
    "ru",
    override=r"игнорируй|игнорируйте|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на|"
             r"не обращайте внимания на|отбрось|отбросьте",
    target=r"инструкци\w*|критери\w*|указани\w*|рубрик\w*|промпт\w*|(?:все|предыдущие|свои) правила",
    top=r"высш\w* балл\w*|максимальн\w*|пятерк\w*|5 балл\w*|оценк\w* 5|как (?:отличн\w*|прошедш\w*)",
    ask=r"поставь|поставьте|пожалуйста|должен|должна|должны|отметь|отметьте|оцени|оцените",
    address=r"как (?:оценщик|экзаменатор|ии|модель|проверяющий)",
    strong=r"(?:оценщику|проверяющему|экзаменатору)|(?:дорогой|уважаемый) (?:оценщик|проверяющий|экзаменатор)|"
           r"(?:для|к) (?:ии|модели|системы оценки)\b",
    role=r"система|ассистент|пользователь",
    subjects=frozenset({"я", "он", "она", "мы", "они", "который", "которая", "не"}),
)

NL = Lexicon(
    "nl",
    override=r"negeer|negeren|vergeet|sla over|gooi weg",
    target=r"instructies?|criteria|beoordelingscriteria|richtlijnen|rubric|prompt|(?:alle|je|uw|vorige) regels",
    top=r"(?:de )?hoogste (?:score|beoordeling|cijfer|niveau)|maximale (?:score|niveau)|een (?:5|vijf|10)\b|"
        r"als (?:uitstekend|geslaagd)",
    ask=r"geef|alsjeblieft|alstublieft|moet|markeer|beoordeel|wees",
    address=r"als (?:beoordelaar|examinator|ai|model)|(?:beste|lieve) (?:beoordelaar|examinator)",
    strong=r"aan de (?:beoordelaar|examinator|ai)|(?:beste|lieve) (?:beoordelaar|examinator|ai)",
    role=r"systeem|assistent|gebruiker",
    subjects=frozenset({"ik", "hij", "zij", "ze", "we", "wij", "men", "die", "dat", "team", "klant", "niet"}),
)

LEXICONS: tuple[Lexicon, ...] = (FR, ES, DE, PT, IT, ZH, JA, RU, NL)


def strip_marks(text: str) -> str:
    """Accents and other combining marks removed from Latin, Greek and Cyrillic letters ("é" → "e", "й" → "и");
    the marks of other scripts (the Japanese voicing marks) are kept."""
    decomposed = unicodedata.normalize("NFD", text)
    if decomposed.isascii():
        return decomposed
    out: list[str] = []
    base = ""
    for ch in decomposed:
        if unicodedata.combining(ch):
            if base and ord(base) < 0x0530:
                continue
        else:
            base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))
